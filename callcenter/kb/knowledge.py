"""The knowledge base as the bot and agents ask it: `await kb.answer(question, language)`.

Holds the current retrieval index and rebuilds it when entries change: on the
`kb.changed` events of any process (the Redis bus carries them between processes), and
at once for this process's own writes, so a search right after an import sees it.
A rebuild runs in the background; a search meanwhile waits for it rather than answer
from entries that were deleted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import EventBus, handle_each
from callcenter.kb.embedding import Embedder, EmbeddingCache
from callcenter.kb.retrieval import Document, Hit, Index, Mode, Vector
from callcenter.kb.service import CHANGED, ENTRIES, SIMILAR
from callcenter.kb.text import detect_language, tokens
from callcenter.tasks import TaskSupervisor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildStats:
    entries: int
    texts: int
    embedded: int  # texts this build had to embed (the rest came from the cache)
    seconds: float


class KnowledgeBase:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        *,
        embedder: Embedder | None,
        threshold: float,
    ) -> None:
        self.db = db
        self.bus = bus
        self.threshold = threshold
        self.embedder = embedder
        self.cache = EmbeddingCache(db, embedder, clock.now) if embedder is not None else None
        self._index: Index | None = None
        self._version = 0  # bumped by every change heard of
        self._built = -1  # the version the current index reflects
        self._lock = asyncio.Lock()
        self._tasks = TaskSupervisor("kb", logger=log)
        self.last_build: BuildStats | None = None

    # ---- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Listen for changes; the first index is built by the first search."""
        subscription = self.bus.subscribe(CHANGED)
        self._tasks.spawn(
            handle_each(subscription, self._on_change, log=log, what="kb index"),
            name="kb-changes",
        )

    async def stop(self) -> None:
        await self._tasks.stop()

    async def _on_change(self, _event: object) -> None:
        self.invalidate()

    def invalidate(self) -> None:
        """Entries changed: rebuild in the background (searches wait for it)."""
        self._version += 1
        if not self._tasks.stopped:
            self._tasks.spawn(self.refresh(), name="kb-rebuild")

    # ---- searching ----------------------------------------------------------------

    async def refresh(self) -> Index:
        """The index for the latest version heard of, built if it is not."""
        async with self._lock:
            while self._built != self._version or self._index is None:
                version = self._version
                self._index = await self._build()
                self._built = version
            return self._index

    async def answer(
        self, question: str, language: str | None = None, *, limit: int = 5,
        mode: Mode = "hybrid",
    ) -> list[Hit]:  # fmt: skip
        """The best entries for `question`, best first, each with its confidence
        (`Hit.confidence`). The bot answers with the first only when `confident(hits)`.
        `language` None: the question's own (detect_language)."""
        index = self._index if self._built == self._version and self._index else None
        if index is None:
            index = await self.refresh()
        language = language or detect_language(question)
        vector = None
        if mode != "lexical" and self.embedder is not None and index.semantic:
            vector = await self._embed_question(question)
        return await asyncio.to_thread(
            index.search, question, vector, language=language, limit=limit, mode=mode
        )

    def confident(self, hits: list[Hit]) -> bool:
        """Whether the bot may answer with hits[0]: below the threshold it hands over."""
        return bool(hits) and hits[0].confidence >= self.threshold

    async def _embed_question(self, question: str) -> Vector:
        assert self.embedder is not None
        vectors = await asyncio.to_thread(self.embedder.embed, [question])
        return vectors[0]

    async def _build(self) -> Index:
        started = time.perf_counter()
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(
                select(ENTRIES.c.id, ENTRIES.c.language, ENTRIES.c.question, ENTRIES.c.answer)
                .where(ENTRIES.c.active.is_(True)).order_by(ENTRIES.c.id))).all()  # fmt: skip
            similar: dict[int, list[str]] = {}
            for entry_id, text in (await conn.execute(
                select(SIMILAR.c.entry_id, SIMILAR.c.text).join(
                    ENTRIES, ENTRIES.c.id == SIMILAR.c.entry_id).where(
                    ENTRIES.c.active.is_(True)).order_by(SIMILAR.c.entry_id, SIMILAR.c.position)
            )).all():  # fmt: skip
                similar.setdefault(entry_id, []).append(text)
        documents = [
            Document(entry_id, language, (question, *similar.get(entry_id, [])), answer)
            for entry_id, language, question, answer in rows
        ]
        vectors: dict[int, Vector] | None = None
        embedded = 0
        texts = sum(len(d.questions) for d in documents)
        if self.cache is not None and self.embedder is not None:
            before = self.cache.computed
            found = await self.cache.vectors([q for d in documents for q in d.questions])
            embedded = self.cache.computed - before
            vectors = {d.entry_id: np.vstack([found[q] for q in d.questions]) for d in documents}
        calibration = self.embedder.calibration if self.embedder is not None else None
        index = await asyncio.to_thread(Index, documents, tokens, vectors, calibration)
        self.last_build = BuildStats(len(documents), texts, embedded,
                                     time.perf_counter() - started)  # fmt: skip
        log.info("kb index: %d entries, %d texts (%d embedded) in %.2f s", len(documents),
                 texts, embedded, self.last_build.seconds)  # fmt: skip
        return index
