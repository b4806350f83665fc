"""Bulk import and export of entries: CSV, XLSX and Markdown (docs/knowledge-base.md,
"Import and export"). Parsing is all-or-nothing: the first bad row raises RowRefused
naming the row and the column, and the caller stores nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from callcenter.kb.text import LANGUAGES, detect_language

COLUMNS = ("kind", "language", "category", "question", "similar_questions", "answer", "tags",
           "active")  # fmt: skip
KINDS = ("qa", "article")
MAX_QUESTION = 500
MAX_ANSWER = 20_000
MAX_SIMILAR = 50
FORMATS = ("csv", "xlsx", "md")
_TRUE = {"1", "true", "yes", "y", "是", "启用"}
_FALSE = {"0", "false", "no", "n", "否", "停用"}


class RowRefused(ValueError):
    """Row `row` (1 = the first data row; a line number in Markdown) is refused at
    `column`."""

    def __init__(self, row: int, column: str, message: str) -> None:
        super().__init__(f"row {row}, column {column}: {message}")
        self.row = row
        self.column = column
        self.message = message


@dataclass
class EntryRow:
    """One entry as files carry it: the category by name, created on import if new."""

    question: str
    answer: str
    language: str
    kind: str = "qa"
    category: str = ""
    similar: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    active: bool = True


def format_of(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"markdown": "md"}.get(ext, ext)


def _split(value: str, seps: str) -> list[str]:
    return [p.strip() for p in re.split(f"[{re.escape(seps)}]", value) if p.strip()]


def check_row(row: int, raw: dict[str, str]) -> EntryRow:
    """One row's cells (by column name) as an entry, or RowRefused."""

    def cell(name: str) -> str:
        return (raw.get(name) or "").strip()

    question = cell("question")
    if not question:
        raise RowRefused(row, "question", "a question (or an article's title) is required")
    if len(question) > MAX_QUESTION:
        raise RowRefused(row, "question", f"longer than {MAX_QUESTION} characters")
    answer = (raw.get("answer") or "").strip()
    if not answer:
        raise RowRefused(row, "answer", "an answer (or an article's body) is required")
    if len(answer) > MAX_ANSWER:
        raise RowRefused(row, "answer", f"longer than {MAX_ANSWER} characters")
    language = cell("language").lower() or detect_language(question)
    if language not in LANGUAGES:
        raise RowRefused(
            row, "language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    kind = cell("kind").lower() or "qa"
    if kind not in KINDS:
        raise RowRefused(row, "kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    similar = _split(raw.get("similar_questions") or "", "|\n")
    if len(similar) > MAX_SIMILAR:
        raise RowRefused(row, "similar_questions", f"more than {MAX_SIMILAR}")
    for s in similar:
        if len(s) > MAX_QUESTION:
            raise RowRefused(
                row, "similar_questions", f"one is longer than {MAX_QUESTION} characters"
            )
    active_text = cell("active").lower()
    if active_text and active_text not in _TRUE | _FALSE:
        raise RowRefused(row, "active", f"must be true or false, not {active_text!r}")
    category = cell("category")
    if len(category) > 100:
        raise RowRefused(row, "category", "longer than 100 characters")
    return EntryRow(
        question=question, answer=answer, language=language, kind=kind, category=category,
        similar=similar, tags=_split(cell("tags"), ",，;；"), active=active_text not in _FALSE,
    )  # fmt: skip


def parse(fmt: str, data: bytes) -> list[EntryRow]:
    """Every entry of a file, or RowRefused at the first bad one (row 0: the file)."""
    if fmt == "csv":
        return _parse_table(_csv_rows(data))
    if fmt == "xlsx":
        return _parse_table(_xlsx_rows(data))
    if fmt == "md":
        return parse_markdown(_decode(data))
    raise RowRefused(0, "file", f"unknown format {fmt!r}; use .csv, .xlsx or .md")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RowRefused(0, "file", "not UTF-8 text") from None


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    yield from csv.reader(io.StringIO(_decode(data), newline=""))


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError):
        raise RowRefused(0, "file", "not an XLSX workbook") from None
    sheet = book.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield ["" if v is None else str(v) for v in values]
    book.close()


def _parse_table(rows: Iterable[list[str]]) -> list[EntryRow]:
    it = iter(rows)
    header = [h.strip().lower() for h in next(it, [])]
    for required in ("question", "answer"):
        if required not in header:
            raise RowRefused(0, required, f"the header row has no {required!r} column")
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise RowRefused(0, unknown[0], f"unknown column; known: {', '.join(COLUMNS)}")
    out = []
    for number, values in enumerate(it, start=1):
        if not any(v.strip() for v in values):
            continue
        out.append(check_row(number, dict(zip(header, values, strict=False))))
    return out


_META = re.compile(r"^(kind|language|category|tags|active)\s*[:：]\s*(.*)$", re.IGNORECASE)
_SIMILAR = re.compile(r"^(similar|similar questions|相似问题|相似问法)\s*[:：]\s*$", re.IGNORECASE)


def parse_markdown(text: str) -> list[EntryRow]:
    """`## question` sections (format in docs/knowledge-base.md). A row number here is
    the line of the section's heading."""
    sections: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            sections.append((number, [line]))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip() and not line.startswith("# "):
            raise RowRefused(number, "question", "text before the first '## question' heading")
    return [_markdown_section(number, lines) for number, lines in sections]


def _markdown_section(number: int, lines: list[str]) -> EntryRow:
    raw: dict[str, str] = {"question": lines[0][3:].strip()}
    similar: list[str] = []
    i = 1
    in_similar = False
    while i < len(lines):
        line = lines[i].strip()
        if in_similar and line.startswith(("- ", "* ")):
            similar.append(line[2:].strip())
        elif meta := _META.match(line):
            raw[meta.group(1).lower()] = meta.group(2)
            in_similar = False
        elif _SIMILAR.match(line):
            in_similar = True
        elif line:
            break
        i += 1
    raw["similar_questions"] = "\n".join(similar)
    raw["answer"] = "\n".join(lines[i:]).strip()
    return check_row(number, raw)


# ---- export -------------------------------------------------------------------------


def _cells(e: dict[str, Any]) -> list[str]:
    return [e["kind"], e["language"], e.get("category") or "", e["question"],
            "\n".join(e["similar_questions"]), e["answer"], ", ".join(e["tags"]),
            "true" if e["active"] else "false"]  # fmt: skip


def to_csv(entries: Sequence[dict[str, Any]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(_cells(e))
    # A BOM so Excel opens Chinese text as UTF-8.
    return ("\ufeff" + buf.getvalue()).encode()


def to_xlsx(entries: Sequence[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "knowledge base"
    sheet.append(list(COLUMNS))
    for e in entries:
        sheet.append(_cells(e))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def to_markdown(entries: Sequence[dict[str, Any]]) -> bytes:
    parts = []
    for e in entries:
        lines = [f"## {e['question']}", f"language: {e['language']}", f"kind: {e['kind']}"]
        if e.get("category"):
            lines.append(f"category: {e['category']}")
        if e["tags"]:
            lines.append("tags: " + ", ".join(e["tags"]))
        if not e["active"]:
            lines.append("active: false")
        if e["similar_questions"]:
            lines.append("similar:")
            lines.extend(f"- {s}" for s in e["similar_questions"])
        lines += ["", e["answer"], ""]
        parts.append("\n".join(lines))
    return "\n".join(parts).encode()


def export(fmt: str, entries: Sequence[dict[str, Any]]) -> bytes:
    return {"csv": to_csv, "xlsx": to_xlsx, "md": to_markdown}[fmt](entries)
