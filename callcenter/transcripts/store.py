"""Transcript segments: stored with their call, announced on the bus, read and searched.

The live pipeline (one recognizer per call side) and the voicemail transcriber both
hand their utterances to `TranscriptStore.add`/`store`. A segment is written through the
writer thread together with its search-index entry, then `call.transcript` {call_id,
segment_id, agent_id} is published (ids only, like every bus event); `/ws/events` turns
it into the segment itself for whoever may see the call, from a small cache of recent
segments, so a hundred supervisors' screens cost one lookup, not a hundred queries.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, insert, select

from callcenter.auth.models import aware
from callcenter.calls.models import Call
from callcenter.calls.service import CallNotFound, CallService
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.speech.engine import Utterance
from callcenter.transcripts.models import TranscriptSegment
from callcenter.transcripts.search import Filters, index_segment, match_query
from callcenter.transcripts.tokens import index_words, query_words

log = logging.getLogger(__name__)

TRANSCRIPT_EVENT = "call.transcript"
SEGMENTS = TranscriptSegment.__table__  # type: ignore[attr-defined]
CALLS = Call.__table__  # type: ignore[attr-defined]
CACHED = 2000  # recent segments kept for the live push (a few minutes of a busy floor)
SNIPPET_CHARS = 80

Speaker = Literal["caller", "agent"]
Source = Literal["live", "voicemail"]
# (text, language) -> character spans to highlight: the sensitive-word checker's, at merge.
Highlighter = Callable[[str, str], list[tuple[int, int]]]
AfterStore = Callable[["Segment"], Awaitable[object]]


def no_highlights(text: str, language: str) -> list[tuple[int, int]]:
    return []


@dataclass(frozen=True)
class Segment:
    """A stored segment: `start`/`end` in seconds from the call's answer."""

    id: int
    call_id: int
    speaker: str
    agent_id: int | None
    start: float
    end: float
    text: str
    confidence: float
    language: str
    source: str
    spoken_at: datetime

    @classmethod
    def of_row(cls, row: Any) -> Segment:
        spoken = row["spoken_at"]
        return cls(
            id=row["id"], call_id=row["call_id"], speaker=row["speaker"],
            agent_id=row["agent_id"], start=row["start"], end=row["end"], text=row["text"],
            confidence=row["confidence"], language=row["language"], source=row["source"],
            spoken_at=aware(spoken),
        )  # fmt: skip

    def public(self, highlighter: Highlighter) -> dict[str, Any]:
        """The JSON shape, in the API and on the websocket; `highlights`: [start, end)
        character spans of `text` to mark (sensitive words)."""
        return {
            "id": self.id, "call_id": self.call_id, "speaker": self.speaker,
            "agent_id": self.agent_id, "start": self.start, "end": self.end,
            "text": self.text, "confidence": self.confidence, "language": self.language,
            "source": self.source, "spoken_at": self.spoken_at.isoformat(),
            "highlights": [[a, b] for a, b in highlighter(self.text, self.language)],
        }  # fmt: skip


@dataclass(frozen=True)
class Hit:
    segment: Segment
    score: float
    snippet: str
    marks: list[tuple[int, int]]  # spans of `snippet` that matched the query


class BadQuery(ValueError):
    """Nothing searchable in the query (only punctuation, spaces)."""


class TranscriptStore:
    """Stores and reads segments. `highlighter` and `after_store` are where the
    sensitive-word checker plugs in (set them before calls are transcribed); `language`
    is the live engine's (segments say which language they are in, for the highlighter
    and for readers)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        calls: CallService,
        clock: Clock,
        *,
        language: str = "en",
        highlighter: Highlighter = no_highlights,
        after_store: Sequence[AfterStore] = (),
    ) -> None:
        self.db = db
        self.bus = bus
        self.calls = calls
        self.clock = clock
        self.language = language
        self.highlighter = highlighter
        self.after_store = list(after_store)
        self._recent: OrderedDict[int, dict[str, Any]] = OrderedDict()  # id -> as pushed
        self._loading: dict[int, asyncio.Future[dict[str, Any] | None]] = {}

    async def add(
        self,
        call_id: str,
        speaker: Literal["caller", "agent"],
        agent_id: int | None,
        started_at: datetime,
        utterance: Utterance,
        *,
        language: str | None = None,
    ) -> None:
        """A live utterance of one side of a call. `call_id`: the call's id (its channel
        id is taken too); `started_at`: aware UTC time of the stream's first audio, which
        `utterance.start`/`end` count from. Unknown calls are logged and dropped: the
        pipeline must never fail because a call record went away."""
        try:
            call = await self._call(call_id)
        except CallNotFound:
            log.warning("transcript for unknown call %s dropped", call_id)
            return
        assert call.id is not None
        await self.store(call, speaker, agent_id, started_at, utterance, source="live",
                         language=language)  # fmt: skip

    async def store(
        self,
        call: Call,
        speaker: Speaker,
        agent_id: int | None,
        started_at: datetime,
        utterance: Utterance,
        *,
        source: Source,
        language: str | None = None,
    ) -> Segment | None:
        """Write one segment (empty text is skipped), publish it, run `after_store`."""
        said = utterance.text.strip()
        if not said or call.id is None:
            return None
        origin = aware(call.answered_at or call.started_at)
        offset = (started_at - origin).total_seconds()
        values = {
            "call_id": call.id, "speaker": speaker, "agent_id": agent_id,
            "start": round(offset + utterance.start, 3), "end": round(offset + utterance.end, 3),
            "text": said, "confidence": min(1.0, max(0.0, float(utterance.confidence))),
            "language": language or self.language, "source": source,
            "spoken_at": started_at + timedelta(seconds=utterance.start),
            "created_at": self.clock.now(),
        }  # fmt: skip

        def write(conn: Connection) -> int:
            words = values["words"] = index_words(said)  # on the writer thread: jieba is CPU
            segment_id = int(conn.execute(insert(SEGMENTS).values(values)
                                          .returning(SEGMENTS.c.id)).scalar_one())  # fmt: skip
            index_segment(conn, segment_id, words)
            return segment_id

        segment = Segment.of_row({**values, "id": await self.db.write(write)})
        self._remember(segment.public(self.highlighter))
        data = {"call_id": call.id, "segment_id": segment.id, "agent_id": call.agent_id}
        await self.bus.publish(Event(TRANSCRIPT_EVENT, data))
        for callback in self.after_store:
            try:
                await callback(segment)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("after storing transcript segment %s", segment.id)
        return segment

    async def _call(self, call_id: str) -> Call:
        if call_id.isdigit():
            return await self.calls.call(int(call_id))
        call = await self.calls.by_channel(call_id)
        if call is None:
            raise CallNotFound(call_id)
        return call

    def _remember(self, public: dict[str, Any]) -> None:
        self._recent[public["id"]] = public
        while len(self._recent) > CACHED:
            self._recent.popitem(last=False)

    async def segment(self, segment_id: int) -> dict[str, Any] | None:
        """One segment as pushed live: from the cache, or read once (another process
        stored it, on a shared bus) however many connections ask at the same moment."""
        if (cached := self._recent.get(segment_id)) is not None:
            return cached
        loading = self._loading.get(segment_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._loading[segment_id] = future
        try:
            rows = await self._rows(select(SEGMENTS).where(SEGMENTS.c.id == segment_id))
            found = Segment.of_row(rows[0]).public(self.highlighter) if rows else None
            if found is not None:
                self._remember(found)
            future.set_result(found)
            return found
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # the other waiters get it; not "never retrieved"
            raise
        finally:
            del self._loading[segment_id]

    async def of_call(self, call_id: int) -> list[Segment]:
        """A call's segments in the order they were spoken."""
        query = (
            select(SEGMENTS)
            .where(SEGMENTS.c.call_id == call_id)
            .order_by(SEGMENTS.c.start, SEGMENTS.c.id)
        )
        return [Segment.of_row(row) for row in await self._rows(query)]

    async def search(self, query: str, filters: Filters, *, limit: int = 50) -> list[Hit]:
        """Segments holding every word of `query`, best match first, then newest."""
        words = query_words(query)
        if not words:
            raise BadQuery(query)
        await self.calls.flush()  # the agent filter reads calls.agent_id
        dialect = "sqlite" if self.db.is_sqlite else "postgresql"
        sql, params = match_query(dialect, words, filters, limit)
        ranked = await self._rows(sql, params)
        if not ranked:
            return []
        ids = [row["id"] for row in ranked]
        rows = await self._rows(select(SEGMENTS).where(SEGMENTS.c.id.in_(ids)))
        by_id = {row["id"]: Segment.of_row(row) for row in rows}
        hits = []
        for row in ranked:
            segment = by_id[row["id"]]
            snippet, marks = make_snippet(segment.text, words)
            hits.append(Hit(segment, float(row["score"]), snippet, marks))
        return hits

    async def _rows(self, query: Any, params: dict[str, Any] | None = None) -> list[Any]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query, params or {})).mappings().all())


def make_snippet(
    text: str, words: Sequence[str], width: int = SNIPPET_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """The part of `text` around its first match, and where the words are in it.

    Matched case-blind on the original text (the index holds lowercased jieba words, and
    every one of them is a piece of the text), so the marks fall on what was said."""
    lower = text.lower()
    spans = sorted((i, i + len(w)) for w in words for i in _occurrences(lower, w))
    first = spans[0][0] if spans else 0
    begin = max(0, min(first - width // 4, len(text) - width))
    end = min(len(text), begin + width)
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - begin
    marks = [(a + shift, b + shift) for a, b in _merged(spans) if a >= begin and b <= end]
    return prefix + text[begin:end] + suffix, marks


def _occurrences(text: str, word: str) -> list[int]:
    found, at = [], text.find(word)
    while at != -1 and word:
        found.append(at)
        at = text.find(word, at + len(word))
    return found


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
