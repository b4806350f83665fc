"""Self-learning (自主学习): the questions the bot could not answer are stored, grouped
by meaning, and offered to admins as new knowledge-base entries.

The clustering job is incremental: each run places the questions stored since the last
one, into an open suggestion when they are close to its questions (it grows) or into
new suggestions among themselves; accepted and dismissed suggestions take no more. So a
suggestion's id stays what the admin saw. It runs before suggestions are listed (cheap
when nothing is new) and holds a lock, so two requests never place one question twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, insert, select, update

from callcenter.auth.models import aware
from callcenter.auth.permissions import Principal
from callcenter.bot import clustering
from callcenter.bot.bot import Unanswered
from callcenter.bot.models import BotSuggestion, BotUnanswered
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.kb.knowledge import KnowledgeBase
from callcenter.kb.service import KbService, NewEntry
from callcenter.kb.text import tokens

log = logging.getLogger(__name__)

SUGGESTIONS = BotSuggestion.__table__  # type: ignore[attr-defined]
UNANSWERED = BotUnanswered.__table__  # type: ignore[attr-defined]
BATCH = 500  # questions placed per run; the next run takes the rest
EXAMPLES = 10


class SuggestionNotFound(LookupError):
    pass


class SuggestionDecided(ValueError):
    """Accepted or dismissed already (409)."""


@dataclass(frozen=True, slots=True)
class _Question:
    id: int
    text: str
    suggestion_id: int | None


class BotLearning:
    def __init__(self, db: Database, clock: Clock, kb: KnowledgeBase, entries: KbService) -> None:
        self.db = db
        self.clock = clock
        self.kb = kb
        self.entries = entries
        self._lock = asyncio.Lock()

    async def record(self, question: Unanswered) -> None:
        now = self.clock.now()
        await self.db.write(lambda conn: conn.execute(insert(UNANSWERED).values(
            text=question.text, language=question.language,
            best_entry_id=question.best_entry_id, best_score=question.best_score,
            conversation_id=question.conversation_id, suggestion_id=None,
            created_at=now)))  # fmt: skip

    async def unanswered(
        self, *, conversation_id: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """The questions stored, newest first (of one conversation when given)."""
        query = select(UNANSWERED).order_by(UNANSWERED.c.id.desc()).limit(limit)
        if conversation_id is not None:
            query = query.where(UNANSWERED.c.conversation_id == conversation_id)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [{**r, "created_at": aware(r["created_at"])} for r in rows]

    # ---- the clustering job -------------------------------------------------------

    async def cluster(self) -> int:
        """Place the questions not yet in a suggestion; how many were placed."""
        async with self._lock:
            placed = 0
            for language in ("zh", "en"):
                placed += await self._cluster_language(language)
            return placed

    async def _cluster_language(self, language: str) -> int:
        async with self.db.engine.connect() as conn:
            new = [_Question(*r) for r in (await conn.execute(
                select(UNANSWERED.c.id, UNANSWERED.c.text, UNANSWERED.c.suggestion_id)
                .where(UNANSWERED.c.language == language, UNANSWERED.c.suggestion_id.is_(None))
                .order_by(UNANSWERED.c.id).limit(BATCH))).all()]  # fmt: skip
            if not new:
                return 0
            members = [_Question(*r) for r in (await conn.execute(
                select(UNANSWERED.c.id, UNANSWERED.c.text, UNANSWERED.c.suggestion_id)
                .join(SUGGESTIONS, SUGGESTIONS.c.id == UNANSWERED.c.suggestion_id)
                .where(SUGGESTIONS.c.status == "open", SUGGESTIONS.c.language == language)
                .order_by(UNANSWERED.c.suggestion_id, UNANSWERED.c.id))).all()]  # fmt: skip
        questions = members + new
        similarity, threshold = await self._similarity([q.text for q in questions])
        open_ids: list[int] = []
        fixed: list[list[int]] = []
        for i, q in enumerate(members):
            if not open_ids or open_ids[-1] != q.suggestion_id:
                assert q.suggestion_id is not None
                open_ids.append(q.suggestion_id)
                fixed.append([])
            fixed[-1].append(i)
        groups = await asyncio.to_thread(clustering.agglomerate, similarity, threshold, fixed)
        now = self.clock.now()
        plan: list[tuple[int | None, str, list[int]]] = []  # (suggestion, representative, new ids)
        for g, members_of in enumerate(groups):
            fresh = [questions[i].id for i in members_of if i >= len(members)]
            if not fresh:
                continue
            rep = questions[clustering.representative(similarity, members_of)].text
            plan.append((open_ids[g] if g < len(open_ids) else None, rep, fresh))

        def store(conn: Connection) -> int:
            count = 0
            for planned, rep, ids in plan:
                suggestion_id = planned
                if suggestion_id is None:
                    result = conn.execute(insert(SUGGESTIONS).values(
                        language=language, representative=rep[:500], status="open",
                        created_at=now, updated_at=now))  # fmt: skip
                    key = result.inserted_primary_key
                    assert key is not None
                    suggestion_id = int(key[0])
                else:
                    conn.execute(update(SUGGESTIONS).where(SUGGESTIONS.c.id == suggestion_id)
                                 .values(representative=rep[:500], updated_at=now))  # fmt: skip
                # Only questions still unplaced: another process may have run meanwhile.
                count += conn.execute(update(UNANSWERED).where(
                    UNANSWERED.c.id.in_(ids), UNANSWERED.c.suggestion_id.is_(None)).values(
                    suggestion_id=suggestion_id)).rowcount  # fmt: skip
            return count

        placed: int = await self.db.write(store)
        log.info("bot learning: %d %s questions placed in %d suggestions", placed, language,
                 len(plan))  # fmt: skip
        return placed

    async def _similarity(self, texts: Sequence[str]) -> tuple[clustering.Matrix, float]:
        """Semantic when the KB has its model, else lexical (docs/bot.md)."""
        embedder, cache = self.kb.embedder, self.kb.cache
        if embedder is not None and cache is not None:
            found = await cache.vectors(texts)
            vectors = np.vstack([found[t] for t in texts])
            matrix = clustering.semantic_similarity(vectors, embedder.calibration)
            return matrix, clustering.SEMANTIC_THRESHOLD
        words = await asyncio.to_thread(lambda: [tokens(t) for t in texts])
        return clustering.lexical_similarity(words), clustering.LEXICAL_THRESHOLD

    # ---- suggestions ----------------------------------------------------------------

    async def suggestions(
        self, *, status: str = "open", language: str | None = None, min_count: int = 1
    ) -> list[dict[str, Any]]:
        """Suggestions with their question count and newest examples, most asked first."""
        if status == "open":
            await self.cluster()
        count = func.count(UNANSWERED.c.id).label("count")
        query = (
            select(SUGGESTIONS, count)
            .join(UNANSWERED, UNANSWERED.c.suggestion_id == SUGGESTIONS.c.id)
            .where(SUGGESTIONS.c.status == status)
            .group_by(*SUGGESTIONS.c)
            .having(count >= min_count)
            .order_by(count.desc(), SUGGESTIONS.c.id)
        )
        if language:
            query = query.where(SUGGESTIONS.c.language == language)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            details = await _details(conn, [r["id"] for r in rows])
        return [_suggestion(r, *details.get(r["id"], ([], None))) for r in rows]

    async def suggestion(self, suggestion_id: int) -> dict[str, Any]:
        count = func.count(UNANSWERED.c.id).label("count")
        query = (
            select(SUGGESTIONS, count)
            .outerjoin(UNANSWERED, UNANSWERED.c.suggestion_id == SUGGESTIONS.c.id)
            .where(SUGGESTIONS.c.id == suggestion_id)
            .group_by(*SUGGESTIONS.c)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise SuggestionNotFound(f"no suggestion {suggestion_id}")
            details = await _details(conn, [suggestion_id])
        return _suggestion(row, *details.get(suggestion_id, ([], None)))

    async def accept(self, suggestion_id: int, entry: NewEntry, who: Principal) -> dict[str, Any]:
        """Create the entry (through the KB service: `kb.changed`, the index rebuilds)
        and mark the suggestion accepted. The suggestion is claimed first, so two admins
        accepting at once make one entry; if the entry is refused it is open again."""
        now = self.clock.now()
        await self.db.write(lambda conn: _claim(conn, suggestion_id, "accepted", who, now))
        try:
            created = await self.entries.create_entry(entry, who)
        except BaseException:
            await self.db.write(lambda conn: conn.execute(
                update(SUGGESTIONS).where(SUGGESTIONS.c.id == suggestion_id).values(
                    status="open", decided_by=None, updated_at=now)))  # fmt: skip
            raise
        await self.db.write(lambda conn: conn.execute(
            update(SUGGESTIONS).where(SUGGESTIONS.c.id == suggestion_id).values(
                entry_id=created["id"])))  # fmt: skip
        self.kb.invalidate()  # this process answers from it at once
        return {"suggestion": await self.suggestion(suggestion_id), "entry": created}

    async def dismiss(self, suggestion_id: int, who: Principal) -> dict[str, Any]:
        now = self.clock.now()
        await self.db.write(lambda conn: _claim(conn, suggestion_id, "dismissed", who, now))
        return await self.suggestion(suggestion_id)

    async def questions_of(self, suggestion_id: int) -> list[str]:
        """The distinct questions of a suggestion, oldest first (for similar questions)."""
        async with self.db.engine.connect() as conn:
            texts = (await conn.execute(select(UNANSWERED.c.text).where(
                UNANSWERED.c.suggestion_id == suggestion_id).order_by(
                UNANSWERED.c.id))).scalars().all()  # fmt: skip
        return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def _claim(conn: Connection, suggestion_id: int, status: str, who: Principal, now: Any) -> None:
    found = conn.execute(select(SUGGESTIONS.c.status).where(
        SUGGESTIONS.c.id == suggestion_id)).scalar()  # fmt: skip
    if found is None:
        raise SuggestionNotFound(f"no suggestion {suggestion_id}")
    if found != "open":
        raise SuggestionDecided(f"the suggestion is {found} already")
    conn.execute(update(SUGGESTIONS).where(SUGGESTIONS.c.id == suggestion_id).values(
        status=status, decided_by=who.user_id, updated_at=now))  # fmt: skip


async def _details(conn: Any, ids: list[int]) -> dict[int, tuple[list[str], int | None]]:
    """Per suggestion: its newest distinct questions, and the entry the bot most often
    thought closest (a hint: maybe a similar question is all that entry needs)."""
    texts: dict[int, list[str]] = {}
    best: dict[int, Counter[int]] = {}
    for i in range(0, len(ids), 500):
        query = select(UNANSWERED.c.suggestion_id, UNANSWERED.c.text,
                       UNANSWERED.c.best_entry_id).where(
            UNANSWERED.c.suggestion_id.in_(ids[i : i + 500])).order_by(
            UNANSWERED.c.id.desc())  # fmt: skip
        for suggestion_id, text, entry_id in (await conn.execute(query)).all():
            seen = texts.setdefault(suggestion_id, [])
            if text not in seen and len(seen) < EXAMPLES:
                seen.append(text)
            if entry_id is not None:
                best.setdefault(suggestion_id, Counter())[entry_id] += 1
    return {s: (texts.get(s, []), best[s].most_common(1)[0][0] if s in best else None) for s in ids}


def _suggestion(row: Any, examples: list[str], best_entry_id: int | None) -> dict[str, Any]:
    return {
        "id": row["id"], "language": row["language"], "representative": row["representative"],
        "count": row["count"], "examples": examples, "best_entry_id": best_entry_id,
        "status": row["status"], "entry_id": row["entry_id"], "decided_by": row["decided_by"],
        "created_at": aware(row["created_at"]), "updated_at": aware(row["updated_at"]),
    }  # fmt: skip
