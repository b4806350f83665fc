"""Knowledge-base retrieval quality and speed on the labelled set of tests/data/kb.

Imports tests/data/kb/kb.md through the real import code (formats.parse and
KbService.import_rows into a fresh SQLite database), builds the index through
KnowledgeBase (embedding cache in the database), then asks every labelled question
(written by hand: rephrasings with typos and slang, Chinese and English) and prints:

- top-1 accuracy of lexical-only (BM25), semantic-only (embeddings) and hybrid scoring,
  per language and overall, with ms per query;
- index build time, cold (every text embedded) and warm (vectors from the cache, as
  after a restart);
- for a few thresholds: how many labelled questions the bot would answer, how many of
  those right, and how many off-topic questions it would refuse.

    .venv/bin/python bench/kb.py

Not a test: it prints numbers (tests/unit/kb/test_retrieval_floor.py holds a floor).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.auth.permissions import Principal  # noqa: E402
from callcenter.config import Settings  # noqa: E402
from callcenter.kb import formats  # noqa: E402
from callcenter.kb.embedding import E5Embedder  # noqa: E402
from callcenter.kb.knowledge import KnowledgeBase  # noqa: E402
from callcenter.kb.service import KbService  # noqa: E402
from callcenter.services import running_services  # noqa: E402
from tests.support.kb import ENTRIES_FILE, labelled  # noqa: E402

MODES = ("lexical", "semantic", "hybrid")
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # The app's own KnowledgeBase lexical-only, so that it embeds nothing behind the
        # bench's back; the bench measures its own, which rebuilds only when told.
        settings = Settings(_env_file=None, env="test", data_dir=Path(tmp), kb_semantic=False)  # type: ignore[call-arg]
        async with running_services(settings) as services:
            kb = KnowledgeBase(
                services.db,
                services.bus,
                services.clock,
                embedder=E5Embedder(),
                threshold=Settings.model_fields["kb_answer_threshold"].default,
            )
            await run(services, kb)


async def run(services, kb: KnowledgeBase) -> None:
    rows = formats.parse("md", ENTRIES_FILE.read_bytes())
    started = time.perf_counter()
    imported = await KbService(services.db, services.bus, services.clock).import_rows(
        rows, Principal.operator("bench")
    )
    print(f"imported {imported['imported']} entries in {time.perf_counter() - started:.2f} s")
    await kb.refresh()
    cold = kb.last_build
    kb.invalidate()
    await kb.refresh()
    warm = kb.last_build
    print(
        f"index build: cold {cold.seconds:.2f} s ({cold.texts} texts, {cold.embedded} embedded),"
        f" warm {warm.seconds:.2f} s ({warm.embedded} embedded)"
    )
    entries = await KbService(services.db, services.bus, services.clock).entries()
    ids = {(e["language"], e["question"]): e["id"] for e in entries}
    questions = labelled()
    known = [q for q in questions if q.expected is not None]
    unknown = [q for q in questions if q.expected is None]
    for q in known:
        assert (q.language, q.expected) in ids, f"no entry {q.expected!r} for {q.question!r}"
    print(f"{len(entries)} entries, {len(known)} labelled questions, {len(unknown)} off-topic\n")
    await kb.answer("warm up", "en")  # loads the model
    print(f"{'mode':<10}{'zh':>8}{'en':>8}{'all':>8}{'ms/query':>10}")
    hybrid_scores: list[tuple[float, bool]] = []
    for mode in MODES:
        right = {"zh": 0, "en": 0}
        count = {"zh": 0, "en": 0}
        times = []
        for q in known:
            t = time.perf_counter()
            hits = await kb.answer(q.question, q.language, limit=1, mode=mode)
            times.append(time.perf_counter() - t)
            ok = bool(hits) and hits[0].entry_id == ids[(q.language, q.expected)]
            right[q.language] += ok
            count[q.language] += 1
            if mode == "hybrid":
                hybrid_scores.append((hits[0].confidence if hits else 0.0, ok))
        acc = {k: right[k] / count[k] for k in right}
        total = sum(right.values()) / sum(count.values())
        print(
            f"{mode:<10}{acc['zh']:>8.3f}{acc['en']:>8.3f}{total:>8.3f}"
            f"{statistics.median(times) * 1000:>10.1f}"
        )
    off = []
    for q in unknown:
        hits = await kb.answer(q.question, q.language, limit=1)
        off.append(hits[0].confidence if hits else 0.0)
    print("\nhybrid confidence threshold: answered / right when answered / off-topic refused")
    for thr in THRESHOLDS:
        answered = [ok for s, ok in hybrid_scores if s >= thr]
        precision = sum(answered) / len(answered) if answered else 0.0
        refused = sum(s < thr for s in off) / len(off)
        mark = "  <- default" if abs(thr - kb.threshold) < 1e-9 else ""
        print(
            f"  {thr:.2f}: {len(answered) / len(hybrid_scores):.3f} / {precision:.3f} /"
            f" {refused:.3f}{mark}"
        )


if __name__ == "__main__":
    asyncio.run(main())
