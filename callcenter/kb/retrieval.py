"""Hybrid retrieval over the knowledge base: BM25 and embedding cosine, fused into one
calibrated score in [0, 1] that is also the answer's confidence.

Pure: the index is built from documents, tokens and vectors handed in, and a search
takes the query's tokens and vector; the database, the model and the event bus are the
caller's (callcenter.kb.knowledge). So it is unit-tested without either.

Why these choices (docs/knowledge-base.md, "How retrieval works"):
- One BM25 document per entry, its question and similar questions at weight 1 and the
  title/body at BODY_WEIGHT, so a word in the answer helps without outvoting the
  questions that were written to be matched (a BM25F-style weighted term frequency).
- BM25 is made comparable across queries by dividing by the query's own ideal score
  (the sum of its words' IDF): "how much of what was asked this entry matches".
- The cosine of a paraphrase and an unrelated sentence sit in a model-specific band
  (e5: about 0.86 and 0.93), so it is stretched to [0, 1] by the model's calibration.
- Fused = SEMANTIC_WEIGHT x semantic + the rest x lexical ranks the entries.
- Confidence = fused + MARGIN_WEIGHT x its lead over the runner-up, clipped to [0, 1]:
  a clear winner is believed sooner than one of two near-equals. On the labelled set
  (bench/kb.py) this answered as many questions as fused alone with fewer wrong answers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Mode = Literal["hybrid", "lexical", "semantic"]

K1 = 1.2
B = 0.75
BODY_WEIGHT = 0.5
SEMANTIC_WEIGHT = 0.6
MARGIN_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class Document:
    """One entry as retrieval sees it: the texts that ask for it, and its body."""

    entry_id: int
    language: str
    questions: tuple[str, ...]  # the question (an article's title) first, then similar ones
    body: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry found for a question. `score` is the fused score in [0, 1] that ranks
    hits; `confidence` is what the bot compares with the threshold (the score and its
    lead over the others); `lexical` and `semantic` are the score's parts; `matched` is
    the entry's question text closest in meaning (else the question)."""

    entry_id: int
    score: float
    confidence: float
    lexical: float
    semantic: float
    matched: str


@dataclass(frozen=True, slots=True)
class Calibration:
    """Cosines at or below `low` count 0, at or above `high` count 1."""

    low: float
    high: float

    def scale(self, cosine: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.clip((cosine.astype(np.float64) - self.low) / (self.high - self.low), 0, 1)


@dataclass(frozen=True, slots=True)
class Weights:
    body: float = BODY_WEIGHT
    semantic: float = SEMANTIC_WEIGHT
    margin: float = MARGIN_WEIGHT


@dataclass
class _Bm25:
    """Okapi BM25 over weighted term frequencies (one Counter per document)."""

    docs: list[dict[str, float]]
    lengths: npt.NDArray[np.float64]
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    unseen_idf: float = 0.0

    @classmethod
    def build(cls, docs: list[dict[str, float]]) -> _Bm25:
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
        index = cls(docs=docs, lengths=lengths)
        df: Counter[str] = Counter()
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                index.postings.setdefault(term, []).append((i, tf))
                df[term] += 1
        n = len(docs)
        index.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        index.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        return index

    def scores(self, query: Sequence[str]) -> tuple[npt.NDArray[np.float64], float]:
        """Each document's BM25 score, and the query's ideal score (sum of IDF, unseen
        words at the highest IDF: a word no entry has is a part of the question that
        no entry answers)."""
        out = np.zeros(len(self.docs), dtype=np.float64)
        if not self.docs:
            return out, 0.0
        avg = float(self.lengths.mean()) or 1.0
        ideal = 0.0
        for term, qtf in Counter(query).items():
            idf = self.idf.get(term)
            if idf is None:
                ideal += self.unseen_idf * qtf
                continue
            ideal += idf * qtf
            for i, tf in self.postings[term]:
                norm = tf + K1 * (1 - B + B * self.lengths[i] / avg)
                out[i] += qtf * idf * tf * (K1 + 1) / norm
        return out, ideal


class Index:
    """The searchable snapshot of every active entry; rebuilt whole on a change (the
    knowledge base of a contact center is thousands of entries, built in a second)."""

    def __init__(
        self,
        documents: Sequence[Document],
        tokenize: Callable[[str], list[str]],
        vectors: Mapping[int, Vector] | None = None,
        calibration: Calibration | None = None,
        weights: Weights | None = None,
    ) -> None:
        """`vectors`: per entry, one row per question text (same order); None (or an
        entry missing) leaves semantic scoring out for it."""
        self.documents = list(documents)
        self.tokenize = tokenize
        self.weights = weights or Weights()
        self.calibration = calibration
        self._by_language: dict[str, npt.NDArray[np.bool_]] = {}
        languages = np.array([d.language for d in self.documents])
        for lang in set(languages.tolist()):
            self._by_language[lang] = languages == lang
        self._bm25 = _Bm25.build([self._terms(d) for d in self.documents])
        self._owners: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._texts: list[str] = []
        self._matrix: Vector | None = None
        if vectors is not None:
            rows, owners = [], []
            for i, doc in enumerate(self.documents):
                vec = vectors.get(doc.entry_id)
                if vec is None:
                    continue
                rows.append(vec)
                owners.extend([i] * len(vec))
                self._texts.extend(doc.questions[: len(vec)])
            if rows:
                self._matrix = np.vstack(rows).astype(np.float32)
                self._owners = np.array(owners, dtype=np.int64)

    def _terms(self, doc: Document) -> dict[str, float]:
        terms: dict[str, float] = {}
        for text in doc.questions:
            for t in self.tokenize(text):
                terms[t] = terms.get(t, 0.0) + 1.0
        for t in self.tokenize(doc.body):
            terms[t] = terms.get(t, 0.0) + self.weights.body
        return terms

    @property
    def semantic(self) -> bool:
        return self._matrix is not None and self.calibration is not None

    def __len__(self) -> int:
        return len(self.documents)

    def search(
        self,
        question: str,
        vector: Vector | None = None,
        *,
        language: str | None = None,
        limit: int = 5,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The best `limit` entries of `language` (all when None) for `question`.

        `vector` is the question's embedding; without it (or without entry vectors)
        hybrid falls back to lexical scores alone."""
        n = len(self.documents)
        if n == 0:
            return []
        raw, ideal = self._bm25.scores(self.tokenize(question))
        lexical = np.clip(raw / ideal, 0, 1) if ideal > 0 else np.zeros(n)
        semantic = np.zeros(n)
        best_text = [-1] * n
        use_semantic = mode != "lexical" and vector is not None and self.semantic
        if use_semantic:
            assert self._matrix is not None and self.calibration is not None
            assert vector is not None
            cos = self._matrix @ vector.astype(np.float32)
            best = np.full(n, -1.0)
            for row, owner in enumerate(self._owners):
                if cos[row] > best[owner]:
                    best[owner] = cos[row]
                    best_text[owner] = row
            semantic = self.calibration.scale(best.astype(np.float32))
        if mode == "lexical" or not use_semantic:
            fused = lexical if mode != "semantic" else semantic
        elif mode == "semantic":
            fused = semantic
        else:
            w = self.weights.semantic
            fused = w * semantic + (1 - w) * lexical
        if language is not None:
            mask = self._by_language.get(language)
            if mask is None:
                return []
            fused = np.where(mask, fused, -1.0)
        ranked = np.argsort(-fused, kind="stable")
        top = float(fused[ranked[0]])
        runner_up = max(0.0, float(fused[ranked[1]])) if n > 1 else 0.0
        hits = []
        for i in ranked[:limit]:
            if fused[i] < 0:
                break
            score = float(fused[i])
            lead = score - (runner_up if i == ranked[0] else top)
            confidence = min(1.0, max(0.0, score + self.weights.margin * max(lead, -score)))
            doc = self.documents[i]
            matched = self._texts[best_text[i]] if best_text[i] >= 0 else doc.questions[0]
            hits.append(Hit(doc.entry_id, round(score, 4), round(confidence, 4),
                            round(float(lexical[i]), 4), round(float(semantic[i]), 4),
                            matched))  # fmt: skip
        return hits
