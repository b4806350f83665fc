"""Configurable ticket types and their forms (docs/tickets.md, "Types and forms").

The migration seeds consultation, complaint, fault and other; admins add types, change
labels and forms, and deactivate types. A ticket's `type` must be an active type when it
is set (at creation or by a change); its `custom_fields` must fit the type's form
whenever either of them changes. Tickets that already have a deactivated type keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.tickets.content_models import TicketType
from callcenter.tickets.forms import FormError, NewType, TypeChange, check_values, parse_form

TYPES_TABLE = TicketType.__table__  # type: ignore[attr-defined]


class TypeNotFound(LookupError):
    pass


class TypeRefused(ValueError):
    """A refused value for one field of a type or a ticket; `path` goes below `field`."""

    def __init__(self, field: str, message: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.path = path
        self.message = message


class TicketTypeService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def list(self, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        query = select(TYPES_TABLE).order_by(TYPES_TABLE.c.id)
        if not include_inactive:
            query = query.where(TYPES_TABLE.c.active.is_(True))
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [public(r) for r in rows]

    async def get(self, name: str) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            row = (
                (await conn.execute(select(TYPES_TABLE).where(TYPES_TABLE.c.name == name)))
                .mappings()
                .first()
            )
        if row is None:
            raise TypeNotFound(name)
        return public(row)

    async def create(self, new: NewType) -> dict[str, Any]:
        now = self.clock.now()

        def store(conn: Connection) -> None:
            taken = select(TYPES_TABLE.c.id).where(TYPES_TABLE.c.name == new.name)
            if conn.execute(taken).first() is not None:
                raise TypeRefused("name", f"a ticket type named {new.name!r} exists")
            conn.execute(insert(TYPES_TABLE).values(
                name=new.name, label_en=new.label_en, label_zh=new.label_zh, active=True,
                form=[f.model_dump() for f in new.form], created_at=now, updated_at=now,
            ))  # fmt: skip

        await self.db.write(store)
        return await self.get(new.name)

    async def update(self, name: str, change: TypeChange) -> dict[str, Any]:
        """Change labels, form or the active flag. A changed form applies to tickets the
        next time their type or custom fields change: stored values are not rewritten."""
        values: dict[str, Any] = {
            f: getattr(change, f) for f in ("label_en", "label_zh", "active")
            if f in change.model_fields_set
        }  # fmt: skip
        if "form" in change.model_fields_set:
            values["form"] = [f.model_dump() for f in change.form or []]
        for field, value in values.items():
            if value is None:
                raise TypeRefused(field, "may not be null")
        values["updated_at"] = self.clock.now()

        def store(conn: Connection) -> None:
            done = conn.execute(
                update(TYPES_TABLE).where(TYPES_TABLE.c.name == name).values(values)
            )
            if done.rowcount == 0:
                raise TypeNotFound(name)

        await self.db.write(store)
        return await self.get(name)


# ---------------------------------------------------------------------- in a transaction


def check_ticket_type(
    conn: Connection, name: str, custom_fields: dict[str, Any], *, new_type: bool
) -> None:
    """The ticket's type exists (and is active when it is being set, `new_type`) and its
    custom fields fit the type's form; TypeRefused on `type` or `custom_fields.<key>`."""
    row = _type_row(conn, name)
    if row is None or (new_type and not row["active"]):
        active = conn.execute(
            select(TYPES_TABLE.c.name).where(TYPES_TABLE.c.active.is_(True))
            .order_by(TYPES_TABLE.c.id)
        ).scalars()  # fmt: skip
        raise TypeRefused("type", f"no active ticket type {name!r}; one of {', '.join(active)}")
    try:
        check_values(parse_form(row["form"]), custom_fields)
    except FormError as exc:
        raise TypeRefused("custom_fields", exc.message, (exc.key,)) from None


def _type_row(conn: Connection, name: str) -> RowMapping | None:
    query = select(TYPES_TABLE).where(TYPES_TABLE.c.name == name)
    return conn.execute(query).mappings().first()


def public(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "label_en": row["label_en"],
        "label_zh": row["label_zh"],
        "active": bool(row["active"]),
        "form": list(row["form"] or []),
    }
