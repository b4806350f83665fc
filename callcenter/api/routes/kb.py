"""The knowledge base over REST (docs/knowledge-base.md, docs/api.md).

Thin: parse, call callcenter.kb, answer. Reading and searching need `kb.read` (agents
have it), every change `kb.manage` (admins). An import is all-or-nothing: a bad row is a
422 naming the row and the column (`["body", "file", row, column]`), nothing stored.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.api.multipart import FormRefused, read_form
from callcenter.auth.permissions import Permission, Principal
from callcenter.kb import formats
from callcenter.kb.knowledge import KnowledgeBase
from callcenter.kb.service import (
    CategoryChange,
    EntryChange,
    KbNotFound,
    KbRefused,
    KbService,
    NewCategory,
    NewEntry,
)

router = APIRouter(prefix="/api/kb", tags=["knowledge base"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.KB_READ))]
Manager = Annotated[Principal, Depends(require(Permission.KB_MANAGE))]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "md": "text/markdown; charset=utf-8",
}


async def get_kb_service(services: ServicesDep) -> KbService:
    return KbService(services.db, services.bus, services.clock)


Kb = Annotated[KbService, Depends(get_kb_service)]


async def get_knowledge(services: ServicesDep) -> KnowledgeBase:
    assert services.kb is not None  # always set by running_services
    return services.kb


Knowledge = Annotated[KnowledgeBase, Depends(get_knowledge)]


async def _answer(work: Awaitable[T], knowledge: KnowledgeBase | None = None) -> T:
    try:
        result = await work
    except KbNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except KbRefused as exc:
        raise invalid(exc.message, exc.field, code=409 if exc.conflict else 422) from None
    if knowledge is not None:
        knowledge.invalidate()  # this process sees its own write at once
    return result


# ---- categories -------------------------------------------------------------------------


@router.get("/categories")
async def list_categories(kb: Kb, _: Reader) -> list[dict[str, Any]]:
    return await kb.categories()


@router.post("/categories", status_code=status.HTTP_201_CREATED)
async def create_category(body: NewCategory, kb: Kb, _: Manager) -> dict[str, Any]:
    return await _answer(kb.create_category(body))


@router.patch("/categories/{category_id}")
async def change_category(
    category_id: int, body: CategoryChange, kb: Kb, _: Manager
) -> dict[str, Any]:
    return await _answer(kb.update_category(category_id, body))


@router.delete("/categories/{category_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_category(category_id: int, kb: Kb, _: Manager) -> None:
    await _answer(kb.delete_category(category_id))


# ---- entries ------------------------------------------------------------------------------


@router.get("/entries")
async def list_entries(
    kb: Kb,
    _: Reader,
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    category_id: int | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """Every entry (inactive ones too), oldest first; `q` filters on the question."""
    return await kb.entries(language=language, category_id=category_id, q=q)


@router.get("/entries/{entry_id}")
async def get_entry(entry_id: int, kb: Kb, _: Reader) -> dict[str, Any]:
    return await _answer(kb.entry(entry_id))


@router.post("/entries", status_code=status.HTTP_201_CREATED)
async def create_entry(
    body: NewEntry, kb: Kb, knowledge: Knowledge, who: Manager
) -> dict[str, Any]:
    return await _answer(kb.create_entry(body, who), knowledge)


@router.patch("/entries/{entry_id}")
async def change_entry(
    entry_id: int, body: EntryChange, kb: Kb, knowledge: Knowledge, who: Manager
) -> dict[str, Any]:
    """Any fields; `similar_questions` replaces the list; `active: false` hides the
    entry from search."""
    return await _answer(kb.update_entry(entry_id, body, who), knowledge)


@router.delete("/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_entry(entry_id: int, kb: Kb, knowledge: Knowledge, _: Manager) -> None:
    await _answer(kb.delete_entry(entry_id), knowledge)


# ---- import and export -----------------------------------------------------------------


class _Upload:
    """The uploaded file in memory, refused past the configured size."""

    def __init__(self, filename: str, limit: int) -> None:
        self.filename = filename
        self.limit = limit
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data
        if len(self.data) > self.limit:
            raise FormRefused(413, "file", f"the file is larger than {self.limit} bytes")

    def discard(self) -> None:
        self.data.clear()


@router.post("/import")
async def import_entries(
    request: Request, services: ServicesDep, kb: Kb, knowledge: Knowledge, who: Manager
) -> dict[str, Any]:
    """multipart/form-data with one `file`: .csv, .xlsx or .md (the format is the
    extension's). Entries with the same language and question are updated."""
    limit = services.settings.kb_import_max_bytes
    try:
        got = await read_form(
            request, file_field="file", open_file=lambda name: _Upload(name, limit),
            text_fields=frozenset(), max_text=1000,
        )  # fmt: skip
    except FormRefused as exc:
        raise invalid(exc.message, exc.field, code=exc.status) from None
    if got.file is None:
        raise invalid("a file is required", "file")
    fmt = formats.format_of(got.file.filename)
    if fmt not in formats.FORMATS:
        raise invalid("the file must end in .csv, .xlsx or .md", "file")
    try:
        rows = formats.parse(fmt, bytes(got.file.data))
    except formats.RowRefused as exc:
        raise HTTPException(422, [{"loc": ["body", "file", exc.row, exc.column],
                                   "msg": str(exc), "type": "value_error"}]) from None  # fmt: skip
    return await _answer(kb.import_rows(rows, who), knowledge)


@router.get("/export")
async def export_entries(
    kb: Kb,
    _: Manager,
    format: Annotated[str, Query(pattern="^(csv|xlsx|md)$")] = "csv",
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
) -> Response:
    """Every entry (inactive ones too) in a file that `POST /import` reads back."""
    entries = await kb.entries(language=language)
    body = formats.export(format, entries)
    return Response(body, media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="knowledge-base.{format}"'})  # fmt: skip


# ---- search -------------------------------------------------------------------------------


@router.get("/search")
async def search(
    kb: Kb,
    knowledge: Knowledge,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """The best entries for a question, with their scores; `confident` says whether the
    bot would answer with the first (its confidence at or above `threshold`)."""
    hits = await knowledge.answer(q, language, limit=limit)
    found = await kb.entries(ids=[h.entry_id for h in hits]) if hits else []
    entries = {e["id"]: e for e in found}
    return {
        "question": q,
        "threshold": knowledge.threshold,
        "confident": knowledge.confident(hits),
        "confidence": hits[0].confidence if hits else 0.0,
        "hits": [
            {"entry_id": h.entry_id, "score": h.score, "confidence": h.confidence,
             "lexical": h.lexical,
             "semantic": h.semantic, "matched": h.matched,
             "question": entries[h.entry_id]["question"],
             "answer": entries[h.entry_id]["answer"],
             "language": entries[h.entry_id]["language"]}
            for h in hits if h.entry_id in entries
        ],
    }  # fmt: skip
