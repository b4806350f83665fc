"""The labelled knowledge base of tests/data/kb: the entries file and the questions
customers asked of each entry (read by bench/kb.py and the retrieval floor test)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "kb"
ENTRIES_FILE = DATA / "kb.md"
QUESTIONS_FILE = DATA / "kb_questions.md"
NONE = "(none)"


@dataclass(frozen=True)
class Labelled:
    question: str
    language: str
    expected: str | None  # the entry's question; None: the KB has no answer


def labelled(path: Path = QUESTIONS_FILE) -> list[Labelled]:
    from callcenter.kb.text import detect_language

    out: list[Labelled] = []
    expected: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            expected = None if title == NONE else title
        elif line.startswith("- "):
            text = line[2:].strip()
            out.append(Labelled(text, detect_language(text), expected))
    return out
