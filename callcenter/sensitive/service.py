"""The checker calls and chats use: the lists' matcher kept in memory, alerts stored and
announced.

The matcher is built from the active phrases once and kept until the lists change: the
store calls `changed()` in the process that made the change, and every process (the
bus may be Redis) drops its matcher on the `sensitive_words.changed` event and builds
the next one in the background, so a check never waits for a query or for jieba.

`check` stores one alert per phrase found in one piece of text and publishes
`sensitive.alert` {alert_id, source, source_id} for each; /ws/events adds the alert
itself (`for_screen`) for the supervisors it is sent to. The same piece (`ref`) checked
again (a transcript segment revised) raises no second alert for the same phrase.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, true, update

from callcenter.auth.models import User, aware
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus, Subscription, handle_each
from callcenter.ids import unique_id
from callcenter.sensitive.matcher import LANGUAGES, Match, Matcher, Phrase
from callcenter.sensitive.models import SOURCES, SensitiveAlert
from callcenter.sensitive.words import WORDS, WordStore
from callcenter.tasks import TaskSupervisor

log = logging.getLogger(__name__)

CHANGED = "sensitive_words.changed"  # {origin}: some list changed; drop the matcher
ALERT = "sensitive.alert"  # {alert_id, source, source_id}
ACKNOWLEDGED = "sensitive.acknowledged"  # {alert_id, acknowledged_by}
ALERTS = SensitiveAlert.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]

EXCERPT_CONTEXT = 40  # characters kept either side of the phrase
CACHED_ALERTS = 500  # recent alerts kept for the websocket, so N screens cost no query


class AlertNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class _Built:
    """A matcher, the list generation it was built for, and its phrases' severities."""

    generation: int
    matcher: Matcher
    severities: dict[int, str]


def language_of(tag: str) -> str:
    """'zh-CN', 'zh_cn', 'en-US' -> 'zh', 'en': recognizers and browsers name regions."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


def excerpt(text: str, match: Match) -> tuple[str, int, int]:
    """The text around `match`, and where the match is in it; cut ends marked with …."""
    lo = max(0, match.start - EXCERPT_CONTEXT)
    hi = min(len(text), match.end + EXCERPT_CONTEXT)
    head = "…" if lo > 0 else ""
    tail = "…" if hi < len(text) else ""
    start = len(head) + match.start - lo
    return head + text[lo:hi] + tail, start, start + match.end - match.start


class SensitiveService:
    """A long-lived listener: `start()` subscribes and warms the matcher, `stop()` ends."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.words = WordStore(db, clock, on_change=self.changed)
        self.state = "idle"
        self._tasks = TaskSupervisor("sensitive-words", logger=log)
        self._sub: Subscription | None = None
        self._lock = asyncio.Lock()
        self._generation = 0  # bumped by every change; a matcher is current for one
        self._matcher: _Built | None = None
        self._recent: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._origin = unique_id()  # this process's changes are applied before publishing

    def _set_state(self, state: str) -> None:
        log.info("sensitive words: %s -> %s", self.state, state)
        self.state = state

    async def start(self) -> None:
        if self.state != "idle":
            return
        self._sub = self.bus.subscribe(CHANGED, ACKNOWLEDGED)
        self._tasks.spawn(
            handle_each(self._sub, self._handle, log=log, what="sensitive words"),
            name="sensitive-words-changes",
        )
        # Built now, not on the first check: jieba's dictionary takes ~0.7 s to load.
        self._tasks.spawn(self.matcher(), name="sensitive-words-matcher")
        self._set_state("running")

    async def stop(self) -> None:
        if self.state == "stopped":
            return
        self._set_state("stopped")
        if self._sub is not None:
            self._sub.close()
        await self._tasks.stop()

    async def _handle(self, event: Event) -> None:
        if event.type == CHANGED and event.data.get("origin") != self._origin:
            self._generation += 1
            await self.matcher()
        elif event.type == ACKNOWLEDGED:
            self._recent.pop(int(event.data["alert_id"]), None)  # read again when asked

    async def changed(self) -> None:
        """A list changed here: the next check uses the new lists, and so do the other
        processes once the event reaches them."""
        self._generation += 1
        await self.bus.publish(Event(CHANGED, {"origin": self._origin}))
        if self.state == "running":
            self._tasks.spawn(self.matcher(), name="sensitive-words-matcher")

    async def matcher(self) -> Matcher:
        """The matcher of the active phrases as they are now (built if they changed)."""
        return (await self._current()).matcher

    async def _current(self) -> _Built:
        current = self._matcher
        if current is not None and current.generation == self._generation:
            return current
        async with self._lock:
            current = self._matcher
            if current is not None and current.generation == self._generation:
                return current
            generation = self._generation  # a change from now on makes the next build
            rows = await self.words.listing(active=True)
            phrases = [Phrase(r["id"], r["phrase"], r["language"]) for r in rows]
            matcher = await asyncio.to_thread(Matcher, phrases)  # jieba: not on the loop
            built = _Built(generation, matcher, {r["id"]: r["severity"] for r in rows})
            self._matcher = built
            log.info("sensitive words: matcher of %d phrases built", len(phrases))
            return built

    async def find(self, text: str, language: str) -> list[Match]:
        """Matches of the current lists in `text`, storing nothing (the admin's trial)."""
        return (await self.matcher()).find(text, language_of(language))

    def spans(self, text: str, language: str) -> list[tuple[int, int]]:
        """Character spans of listed phrases in `text`, to highlight it on a screen. Sync,
        so it serves wherever text is drawn: the last built matcher (none yet: no spans)."""
        current = self._matcher
        if current is None:
            return []
        return [(m.start, m.end) for m in current.matcher.find(text, language_of(language))]

    async def severities(self, text: str, language: str) -> set[str]:
        """The severities of the phrases in `text`, storing nothing (the bot hands a
        visitor who writes a critical one to a person)."""
        current = await self._current()
        found = current.matcher.find(text, language_of(language))
        return {current.severities.get(m.phrase_id, "warn") for m in found}

    async def check(
        self,
        source: str,
        source_id: str,
        *,
        ref: str | None,
        text: str,
        language: str,
        agent_id: int | None,
    ) -> list[Match]:
        """Every listed phrase in `text` (a transcript segment, a chat message); an alert
        stored and published per phrase found. A language without a list finds nothing."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
        lang = language_of(language)
        if lang not in LANGUAGES:
            return []
        current = await self._current()
        matches = current.matcher.find(text, lang)
        if not matches:
            return matches
        severities = current.severities
        first: dict[int, Match] = {}
        for m in matches:
            first.setdefault(m.phrase_id, m)
        now = self.clock.now()
        rows = []
        for m in first.values():
            shown, start, end = excerpt(text, m)
            rows.append({"source": source, "source_id": source_id, "ref": ref,
                         "phrase_id": m.phrase_id, "phrase": m.phrase, "language": lang,
                         "severity": severities.get(m.phrase_id, "warn"), "agent_id": agent_id,
                         "excerpt": shown, "match_start": start, "match_end": end,
                         "created_at": now})  # fmt: skip

        def store(conn: Connection) -> list[dict[str, Any]]:
            stored = []
            for candidate in rows:
                if ref is not None and _already(conn, candidate):
                    continue
                row = dict(candidate)
                # The phrase may have been deleted since the matcher was built.
                listed = select(WORDS.c.id).where(WORDS.c.id == row["phrase_id"])
                if conn.execute(listed).first() is None:
                    row["phrase_id"] = None
                query = ALERTS.insert().values(row).returning(ALERTS.c.id)
                alert_id = int(conn.execute(query).scalar_one())
                stored.append({"id": alert_id, **row})
            names = _names(conn, {agent_id} if agent_id is not None else set())
            return [_public(a, names) for a in stored]

        for alert in await self.db.write(store):
            self._remember(alert)
            await self.bus.publish(
                Event(ALERT, {"alert_id": alert["id"], "source": source, "source_id": source_id})
            )
        return matches

    def _remember(self, alert: dict[str, Any]) -> None:
        self._recent[alert["id"]] = alert
        self._recent.move_to_end(alert["id"])
        while len(self._recent) > CACHED_ALERTS:
            self._recent.popitem(last=False)

    async def alert(self, alert_id: int) -> dict[str, Any]:
        if (cached := self._recent.get(alert_id)) is not None:
            return cached
        found = await self._read(ALERTS.c.id == alert_id, limit=1)
        if not found:
            raise AlertNotFound(alert_id)
        self._remember(found[0])
        return found[0]

    async def for_screen(self, event: Event) -> Event:
        """`event` (a `sensitive.alert`) with the alert in it, for a supervisor's screen."""
        try:
            alert = await self.alert(int(event.data["alert_id"]))
        except AlertNotFound:
            return event
        return Event(event.type, {**event.data, "alert": alert}, id=event.id, ts=event.ts)

    async def alerts(
        self,
        *,
        since: datetime | None = None,
        acknowledged: bool | None = None,
        source_id: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        where = []
        if since is not None:  # in UTC: SQLite compares the stored text, offsets dropped
            where.append(ALERTS.c.created_at >= aware(since))
        if acknowledged is not None:
            column = ALERTS.c.acknowledged_at
            where.append(column.is_not(None) if acknowledged else column.is_(None))
        if source_id is not None:
            where.append(ALERTS.c.source_id == source_id)
        return await self._read(and_(true(), *where), limit=limit)

    async def _read(self, where: Any, *, limit: int) -> list[dict[str, Any]]:
        query = (
            select(ALERTS).where(where).order_by(ALERTS.c.created_at.desc(), ALERTS.c.id.desc())
        ).limit(limit)
        async with self.db.engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings()]
            ids = {r[k] for r in rows for k in ("agent_id", "acknowledged_by") if r[k] is not None}
            names = await conn.run_sync(_names, ids)
        return [_public(r, names) for r in rows]

    async def acknowledge(self, alert_id: int, user_id: int | None) -> dict[str, Any]:
        """Mark the alert seen by `user_id`; acknowledging it again changes nothing."""
        now = self.clock.now()

        def store(conn: Connection) -> bool:
            row = conn.execute(select(ALERTS.c.acknowledged_at).where(ALERTS.c.id == alert_id))
            found = row.first()
            if found is None:
                raise AlertNotFound(alert_id)
            if found[0] is not None:
                return False
            values = {"acknowledged_by": user_id, "acknowledged_at": now}
            conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id).values(values))
            return True

        if await self.db.write(store):
            self._recent.pop(alert_id, None)
            await self.bus.publish(
                Event(ACKNOWLEDGED, {"alert_id": alert_id, "acknowledged_by": user_id})
            )
        return await self.alert(alert_id)


def _already(conn: Connection, row: Mapping[str, Any]) -> bool:
    query = select(ALERTS.c.id).where(
        ALERTS.c.source == row["source"],
        ALERTS.c.source_id == row["source_id"],
        ALERTS.c.ref == row["ref"],
        ALERTS.c.phrase == row["phrase"],
    )
    return conn.execute(query).first() is not None


def _names(conn: Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(select(USERS.c.id, USERS.c.username).where(USERS.c.id.in_(ids)))
    return {int(i): str(name) for i, name in rows}


def _public(row: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    return {"id": row["id"], "source": row["source"], "source_id": row["source_id"],
            "ref": row["ref"], "phrase_id": row["phrase_id"], "phrase": row["phrase"],
            "language": row["language"], "severity": row["severity"],
            "agent_id": row["agent_id"], "agent": names.get(row["agent_id"] or 0),
            "excerpt": row["excerpt"], "match_start": row["match_start"],
            "match_end": row["match_end"], "created_at": _iso(row["created_at"]),
            "acknowledged_by": row.get("acknowledged_by"),
            "acknowledged_by_name": names.get(row.get("acknowledged_by") or 0),
            "acknowledged_at": _iso(row.get("acknowledged_at"))}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC: the same text in the API's JSON and on the websocket."""
    return None if value is None else aware(value).isoformat()
