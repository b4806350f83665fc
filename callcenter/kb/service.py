"""Categories and entries: reads, checked writes (one transaction each, on the writer
thread, every check inside) and the all-or-nothing import. Every write publishes
`kb.changed` with the entry ids, on which every process rebuilds its index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, CursorResult, RowMapping, delete, insert, select, update

from callcenter.auth.models import aware
from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.kb.formats import EntryRow
from callcenter.kb.models import KbCategory, KbEntry, KbSimilarQuestion

CATEGORIES = KbCategory.__table__  # type: ignore[attr-defined]
ENTRIES = KbEntry.__table__  # type: ignore[attr-defined]
SIMILAR = KbSimilarQuestion.__table__  # type: ignore[attr-defined]
CHANGED = "kb.changed"

Question = Field(min_length=1, max_length=500)


class NewCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    parent_id: int | None = None


class CategoryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    parent_id: int | None = None


class NewEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="qa", pattern="^(qa|article)$")
    language: str = Field(pattern="^(zh|en)$")
    category_id: int | None = None
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=20_000)
    similar_questions: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)
    active: bool = True


class EntryChange(BaseModel):
    """A partial change; `similar_questions` given replaces the whole list."""

    model_config = ConfigDict(extra="forbid")
    kind: str | None = Field(default=None, pattern="^(qa|article)$")
    language: str | None = Field(default=None, pattern="^(zh|en)$")
    category_id: int | None = None
    question: str | None = Field(default=None, min_length=1, max_length=500)
    answer: str | None = Field(default=None, min_length=1, max_length=20_000)
    similar_questions: list[str] | None = Field(default=None, max_length=50)
    tags: list[str] | None = Field(default=None, max_length=20)
    active: bool | None = None


class KbNotFound(LookupError):
    pass


class KbRefused(ValueError):
    """A refused value for `field` (422, or 409 when `conflict`)."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.conflict = conflict


def _similar_ok(texts: Sequence[str]) -> list[str]:
    out = [t.strip() for t in texts if t.strip()]
    if any(len(t) > 500 for t in out):
        raise KbRefused("similar_questions", "one is longer than 500 characters")
    return out


class KbService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    async def _changed(self, entry_ids: Sequence[int], action: str) -> None:
        await self.bus.publish(Event(CHANGED, {"entry_ids": list(entry_ids), "action": action}))

    # ---- categories ---------------------------------------------------------------

    async def categories(self) -> list[dict[str, Any]]:
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(select(CATEGORIES).order_by(CATEGORIES.c.name))).mappings()
            return [_category(r) for r in rows]

    async def create_category(self, new: NewCategory) -> dict[str, Any]:
        now = self.clock.now()

        def store(conn: Connection) -> int:
            _name_free(conn, new.name)
            if new.parent_id is not None:
                _category_exists(conn, new.parent_id, "parent_id")
            result = conn.execute(insert(CATEGORIES).values(
                name=new.name, parent_id=new.parent_id, created_at=now))  # fmt: skip
            return _new_id(result)

        return await self.category(await self.db.write(store))

    async def category(self, category_id: int) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            row = (
                (await conn.execute(select(CATEGORIES).where(CATEGORIES.c.id == category_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise KbNotFound(f"no category {category_id}")
        return _category(row)

    async def update_category(self, category_id: int, change: CategoryChange) -> dict[str, Any]:
        values = {f: getattr(change, f) for f in change.model_fields_set}
        if "name" in values and values["name"] is None:
            raise KbRefused("name", "may not be null")

        def store(conn: Connection) -> None:
            _category_exists(conn, category_id, "id", missing=KbNotFound)
            if "name" in values:
                _name_free(conn, values["name"], but=category_id)
            parent = values.get("parent_id")
            if parent is not None:
                _category_exists(conn, parent, "parent_id")
                # Walk up from the new parent: meeting this category would be a loop.
                seen: int | None = parent
                while seen is not None:
                    if seen == category_id:
                        raise KbRefused("parent_id", "a category cannot be inside itself")
                    seen = conn.execute(select(CATEGORIES.c.parent_id).where(
                        CATEGORIES.c.id == seen)).scalar()  # fmt: skip
            if values:
                conn.execute(update(CATEGORIES).where(CATEGORIES.c.id == category_id)
                             .values(values))  # fmt: skip

        await self.db.write(store)
        return await self.category(category_id)

    async def delete_category(self, category_id: int) -> None:
        """Only an empty category goes: no entries, no subcategories (409 otherwise)."""

        def store(conn: Connection) -> None:
            _category_exists(conn, category_id, "id", missing=KbNotFound)
            used = conn.execute(select(ENTRIES.c.id).where(
                ENTRIES.c.category_id == category_id).limit(1)).first()  # fmt: skip
            child = conn.execute(select(CATEGORIES.c.id).where(
                CATEGORIES.c.parent_id == category_id).limit(1)).first()  # fmt: skip
            if used or child:
                raise KbRefused("id", "the category still has entries or subcategories",
                                conflict=True)  # fmt: skip
            conn.execute(delete(CATEGORIES).where(CATEGORIES.c.id == category_id))

        await self.db.write(store)

    # ---- entries ------------------------------------------------------------------

    async def entries(
        self, *, language: str | None = None, category_id: int | None = None,
        q: str | None = None, include_inactive: bool = True, ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        query = (
            select(ENTRIES, CATEGORIES.c.name.label("category"))
            .outerjoin(CATEGORIES, CATEGORIES.c.id == ENTRIES.c.category_id)
            .order_by(ENTRIES.c.id)
        )
        if language:
            query = query.where(ENTRIES.c.language == language)
        if category_id is not None:
            query = query.where(ENTRIES.c.category_id == category_id)
        if q:
            query = query.where(ENTRIES.c.question.contains(q))
        if not include_inactive:
            query = query.where(ENTRIES.c.active.is_(True))
        if ids is not None:
            query = query.where(ENTRIES.c.id.in_(list(ids)))
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            similar = await _similar_of(conn, [r["id"] for r in rows])
        return [_entry(r, similar.get(r["id"], [])) for r in rows]

    async def entry(self, entry_id: int) -> dict[str, Any]:
        query = (
            select(ENTRIES, CATEGORIES.c.name.label("category"))
            .outerjoin(CATEGORIES, CATEGORIES.c.id == ENTRIES.c.category_id)
            .where(ENTRIES.c.id == entry_id)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise KbNotFound(f"no entry {entry_id}")
            similar = await _similar_of(conn, [entry_id])
        return _entry(row, similar.get(entry_id, []))

    async def create_entry(self, new: NewEntry, who: Principal) -> dict[str, Any]:
        now = self.clock.now()
        similar = _similar_ok(new.similar_questions)

        def store(conn: Connection) -> int:
            if new.category_id is not None:
                _category_exists(conn, new.category_id, "category_id")
            values = new.model_dump(exclude={"similar_questions"})
            result = conn.execute(insert(ENTRIES).values(
                **values, created_by=who.user_id, updated_by=who.user_id,
                created_at=now, updated_at=now))  # fmt: skip
            entry_id = _new_id(result)
            _set_similar(conn, entry_id, similar)
            return entry_id

        entry_id = await self.db.write(store)
        await self._changed([entry_id], "created")
        return await self.entry(entry_id)

    async def update_entry(
        self, entry_id: int, change: EntryChange, who: Principal
    ) -> dict[str, Any]:
        values = {f: getattr(change, f) for f in change.model_fields_set}
        for name in ("kind", "language", "question", "answer", "active", "tags"):
            if name in values and values[name] is None:
                raise KbRefused(name, "may not be null")
        similar = values.pop("similar_questions", None)
        similar = None if similar is None else _similar_ok(similar)
        values.update(updated_by=who.user_id, updated_at=self.clock.now())

        def store(conn: Connection) -> None:
            if conn.execute(select(ENTRIES.c.id).where(ENTRIES.c.id == entry_id)).first() is None:
                raise KbNotFound(f"no entry {entry_id}")
            if values.get("category_id") is not None:
                _category_exists(conn, values["category_id"], "category_id")
            conn.execute(update(ENTRIES).where(ENTRIES.c.id == entry_id).values(values))
            if similar is not None:
                _set_similar(conn, entry_id, similar)

        await self.db.write(store)
        await self._changed([entry_id], "updated")
        return await self.entry(entry_id)

    async def delete_entry(self, entry_id: int) -> None:
        def store(conn: Connection) -> None:
            conn.execute(delete(SIMILAR).where(SIMILAR.c.entry_id == entry_id))
            if conn.execute(delete(ENTRIES).where(ENTRIES.c.id == entry_id)).rowcount == 0:
                raise KbNotFound(f"no entry {entry_id}")

        await self.db.write(store)
        await self._changed([entry_id], "deleted")

    async def import_rows(self, rows: Sequence[EntryRow], who: Principal) -> dict[str, Any]:
        """Store parsed rows in one transaction. An entry with the same language and
        question is updated (so importing a file again changes, never duplicates);
        categories named and missing are created."""
        now = self.clock.now()

        def store(conn: Connection) -> tuple[list[int], int]:
            categories: dict[str, int] = dict(
                conn.execute(select(CATEGORIES.c.name, CATEGORIES.c.id)).all()
            )
            existing = {(lang, q): i for i, lang, q in conn.execute(
                select(ENTRIES.c.id, ENTRIES.c.language, ENTRIES.c.question)).all()}  # fmt: skip
            ids, created = [], 0
            for row in rows:
                category_id = None
                if row.category:
                    category_id = categories.get(row.category)
                    if category_id is None:
                        result = conn.execute(insert(CATEGORIES).values(
                            name=row.category, parent_id=None, created_at=now))  # fmt: skip
                        category_id = categories[row.category] = _new_id(result)
                values = {
                    "kind": row.kind,
                    "language": row.language,
                    "category_id": category_id,
                    "question": row.question,
                    "answer": row.answer,
                    "tags": row.tags,
                    "active": row.active,
                    "updated_by": who.user_id,
                    "updated_at": now,
                }
                entry_id = existing.get((row.language, row.question))
                if entry_id is None:
                    result = conn.execute(insert(ENTRIES).values(
                        **values, created_by=who.user_id, created_at=now))  # fmt: skip
                    entry_id = existing[(row.language, row.question)] = _new_id(result)
                    created += 1
                else:
                    conn.execute(update(ENTRIES).where(ENTRIES.c.id == entry_id).values(values))
                _set_similar(conn, entry_id, row.similar)
                ids.append(entry_id)
            return ids, created

        ids, created = await self.db.write(store)
        if ids:
            await self._changed(ids, "imported")
        return {"imported": len(ids), "created": created, "updated": len(ids) - created}


# ---------------------------------------------------------------------- helpers


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _category(row: RowMapping) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "parent_id": row["parent_id"],
            "created_at": aware(row["created_at"])}  # fmt: skip


def _entry(row: RowMapping, similar: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"], "kind": row["kind"], "language": row["language"],
        "category_id": row["category_id"], "category": row["category"],
        "question": row["question"], "answer": row["answer"], "similar_questions": similar,
        "tags": list(row["tags"] or []), "active": row["active"],
        "created_by": row["created_by"], "updated_by": row["updated_by"],
        "created_at": aware(row["created_at"]), "updated_at": aware(row["updated_at"]),
    }  # fmt: skip


async def _similar_of(conn: Any, entry_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in range(0, len(entry_ids), 500):
        query = select(SIMILAR.c.entry_id, SIMILAR.c.text).where(
            SIMILAR.c.entry_id.in_(entry_ids[i : i + 500])).order_by(
            SIMILAR.c.entry_id, SIMILAR.c.position)  # fmt: skip
        for entry_id, text in (await conn.execute(query)).all():
            out.setdefault(entry_id, []).append(text)
    return out


def _set_similar(conn: Connection, entry_id: int, texts: Sequence[str]) -> None:
    conn.execute(delete(SIMILAR).where(SIMILAR.c.entry_id == entry_id))
    if texts:
        conn.execute(
            insert(SIMILAR),
            [{"entry_id": entry_id, "text": t, "position": i} for i, t in enumerate(texts)],
        )


def _name_free(conn: Connection, name: str, *, but: int | None = None) -> None:
    query = select(CATEGORIES.c.id).where(CATEGORIES.c.name == name)
    if but is not None:
        query = query.where(CATEGORIES.c.id != but)
    if conn.execute(query).first() is not None:
        raise KbRefused("name", f"a category named {name!r} exists", conflict=True)


def _category_exists(
    conn: Connection, category_id: int, field: str, missing: type[Exception] | None = None
) -> None:
    if conn.execute(select(CATEGORIES.c.id).where(CATEGORIES.c.id == category_id)).first() is None:
        if missing is not None:
            raise missing(f"no category {category_id}")
        raise KbRefused(field, f"no category {category_id}")
