"""Customer profiles: found or created on a contact, read, edited, merged.

Writes go through `Database.write` (one transaction on the writer thread, the same one
the call records use); reads use the async engine.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    String,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from callcenter.auth.models import User, aware
from callcenter.calls.models import Call
from callcenter.clock import Clock
from callcenter.customers.access import ALL, Scope, visible
from callcenter.customers.csvio import ImportRejected, ImportRow, RowError
from callcenter.customers.fields import (
    CrmAnswer,
    IdentityError,
    NewProfile,
    ProfileChange,
    normalize_identity,
)
from callcenter.customers.models import CLASSES, Customer, CustomerIdentity
from callcenter.customers.phone import normalize_phone
from callcenter.db import Database
from callcenter.routing.rules import region_for_number
from callcenter.tickets.access import TICKETS, ticket_visible
from callcenter.tickets.service import timeline_item as ticket_timeline_item

CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]
CALLS = Call.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
EXPORT_PAGE = 500


@dataclass(frozen=True)
class ContactProfile:
    """The profile a contact belongs to, as a call needs it: its id and its class."""

    customer_id: int
    customer_class: str
    created: bool = False  # made by this contact


def find_or_create_by_phone(
    conn: Connection, raw_number: str, *, at: datetime, name: str = "", source: str = ""
) -> ContactProfile | None:
    """The profile that owns this number; a new one for an unknown number.

    Anonymous callers (no number) get no profile: merging every withheld number into
    one customer would mix strangers' histories. Two controllers racing on the same new
    number both end up with the one profile the unique constraint lets through.

    Plain SQL statements on the caller's (blocking) connection, not the ORM: this runs
    for every arriving call, on the database writer thread (`Database.write`).
    A new profile records `source` (where the contact came in) and the region of the
    number's country code.
    """
    number = normalize_phone(raw_number)
    if not number.lstrip("+"):
        return None
    found = _by_identity(conn, "phone", number, at)
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            created = insert(CUSTOMERS).values(
                display_name=name or number, customer_class="new", created_at=at,
                last_contact_at=at, source=source[:128], region=region_for_number(number),
            )  # fmt: skip
            customer_id = (conn.execute(created.returning(CUSTOMERS.c.id))).scalar_one()
            conn.execute(
                insert(IDENTITIES).values(customer_id=customer_id, kind="phone", value=number)
            )
    except IntegrityError:
        return _by_identity(conn, "phone", number, at)
    return ContactProfile(customer_id, "new", created=True)


def _by_identity(conn: Connection, kind: str, value: str, at: datetime) -> ContactProfile | None:
    """The profile owning (kind, value), its last contact moved to `at`.

    A "new" customer who was in touch before becomes "returning" on this contact.
    """
    stmt = (
        select(CUSTOMERS.c.id, CUSTOMERS.c.customer_class, CUSTOMERS.c.last_contact_at)
        .join(IDENTITIES, IDENTITIES.c.customer_id == CUSTOMERS.c.id)
        .where(IDENTITIES.c.kind == kind, IDENTITIES.c.value == value)
    )
    row = (conn.execute(stmt)).first()
    if row is None:
        return None
    customer_id, customer_class, last_contact = row
    if customer_class == "new" and last_contact is not None:
        customer_class = "returning"
    conn.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.id == customer_id)
        .values(customer_class=customer_class, last_contact_at=at)
    )
    return ContactProfile(customer_id, customer_class)


class CustomerNotFound(LookupError):
    pass


class IdentityNotFound(LookupError):
    pass


class CustomerMerged(LookupError):
    """The profile was merged into `merged_into`: the id resolves there."""

    def __init__(self, customer_id: int, merged_into: int) -> None:
        super().__init__(f"customer {customer_id} was merged into {merged_into}")
        self.merged_into = merged_into


class FieldError(ValueError):
    """A value the service refuses, for one field (a 422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class IdentityTaken(FieldError):
    """(kind, value) belongs to another profile (a 409 naming it)."""

    def __init__(self, field: str, kind: str, value: str, customer_id: int) -> None:
        super().__init__(field, f"{kind} {value} belongs to customer {customer_id}")
        self.customer_id = customer_id


class CustomerService:
    """Profiles for the API, the CSV import and the CRM lookup.

    `flush` writes the call records' pending changes first (`CallService.flush`), so a
    timeline or an agent's visibility never lags the calls as they were published.
    """

    def __init__(
        self, db: Database, clock: Clock, flush: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self._flush = flush

    async def _flushed(self) -> None:
        if self._flush is not None:
            await self._flush()

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    # ------------------------------------------------------------------ reading

    async def get(self, customer_id: int, scope: Scope = ALL) -> dict[str, Any]:
        """One profile; CustomerNotFound when absent or not visible, CustomerMerged when
        it lives on in another one."""
        await self._flushed()
        query = select(CUSTOMERS).where(CUSTOMERS.c.id == customer_id)
        rows = await self._rows(query.where(visible(scope, CUSTOMERS.c.id)))
        if not rows:
            merged = await self._rows(
                select(CUSTOMERS.c.merged_into).where(CUSTOMERS.c.id == customer_id)
            )
            # Visibility follows the kept profile: the old id only says where it went.
            if merged and merged[0]["merged_into"] is not None:
                kept = int(merged[0]["merged_into"])
                await self.get(kept, scope)
                raise CustomerMerged(customer_id, kept)
            raise CustomerNotFound(customer_id)
        if rows[0]["merged_into"] is not None:
            raise CustomerMerged(customer_id, int(rows[0]["merged_into"]))
        return (await self._public(rows))[0]

    async def _public(self, rows: list[RowMapping]) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        found = await self._rows(
            select(IDENTITIES).where(IDENTITIES.c.customer_id.in_(ids)).order_by(IDENTITIES.c.id)
        )
        by_customer: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for ident in found:
            by_customer[ident["customer_id"]].append(
                {"id": ident["id"], "kind": ident["kind"], "value": ident["value"]}
            )
        return [public(row, by_customer[row["id"]]) for row in rows]

    async def search(
        self,
        scope: Scope = ALL,
        *,
        q: str = "",
        tag: str = "",
        customer_class: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Profiles newest first; `q` matches the name or part of a phone, email or chat
        id, `tag` one tag exactly."""
        await self._flushed()
        conds: list[Any] = [CUSTOMERS.c.merged_into.is_(None), visible(scope, CUSTOMERS.c.id)]
        if q := q.strip():
            like = f"%{_escape(q.lower())}%"
            terms = [func.lower(IDENTITIES.c.value).like(like, escape="\\")]
            digits = normalize_phone(q).lstrip("+")
            if len(digits) >= 3:  # "138-0013" finds +8613800138000
                terms.append(IDENTITIES.c.value.like(f"%{digits}%"))
            matched = select(IDENTITIES.c.customer_id).where(or_(*terms))
            conds.append(
                or_(
                    func.lower(CUSTOMERS.c.display_name).like(like, escape="\\"),
                    CUSTOMERS.c.id.in_(matched),
                )
            )
        if tag := tag.strip().lower():
            # Tags are a JSON array written by SQLAlchemy's json.dumps: the quoted tag
            # appears verbatim in its text on SQLite and PostgreSQL alike.
            pattern = f"%{_escape(json.dumps(tag))}%"
            conds.append(cast(CUSTOMERS.c.tags, String).like(pattern, escape="\\"))
        if customer_class:
            conds.append(CUSTOMERS.c.customer_class == customer_class)
        query = select(CUSTOMERS).where(*conds)
        total = await self._rows(select(func.count()).select_from(query.subquery()))
        rows = await self._rows(query.order_by(CUSTOMERS.c.id.desc()).limit(limit).offset(offset))
        return await self._public(rows), int(next(iter(total[0].values())))

    async def timeline(
        self, customer_id: int, scope: Scope = ALL, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Everything that happened with the customer, newest first. Every item has a
        `kind` ("call", "ticket" for the tickets the reader may see; "chat" joins with
        its domain) and an `at`."""
        await self.get(customer_id, scope)
        query = (
            select(CALLS, USERS.c.username, USERS.c.display_name.label("agent_display"))
            .outerjoin(USERS, USERS.c.id == CALLS.c.agent_id)
            .where(CALLS.c.customer_id == customer_id)
            .order_by(CALLS.c.started_at.desc(), CALLS.c.id.desc())
            .limit(limit)
        )
        items = [_call_item(row) for row in await self._rows(query)]
        tickets = (
            select(TICKETS)
            .where(TICKETS.c.requester_id == customer_id, ticket_visible(scope.tickets))
            .order_by(TICKETS.c.created_at.desc(), TICKETS.c.id.desc())
            .limit(limit)
        )
        items += [ticket_timeline_item(row) for row in await self._rows(tickets)]
        # ISO strings of UTC times sort as the times do; stable, so a call stays first.
        return sorted(items, key=lambda item: item["at"] or "", reverse=True)[:limit]

    # ------------------------------------------------------------------ writing

    async def create(self, new: NewProfile, *, source: str = "") -> dict[str, Any]:
        identities = _identities(new)
        now = self.clock.now()

        def store(conn: Connection) -> int:
            _claim_check(conn, identities, None)
            values = _changes(new)
            values.setdefault("display_name", identities[0][1] if identities else "")
            values.setdefault("source", source)
            if "region" not in values:
                phones = [v for k, v in identities if k == "phone"]
                values["region"] = region_for_number(phones[0]) if phones else ""
            customer_id = int(
                conn.execute(
                    insert(CUSTOMERS).values(created_at=now, **values).returning(CUSTOMERS.c.id)
                ).scalar_one()
            )
            _add_identities(conn, customer_id, identities)
            return customer_id

        return await self.get(await self.db.write(store))

    async def update(self, customer_id: int, change: ProfileChange) -> dict[str, Any]:
        await self.get(customer_id)
        values = _changes(change)
        if values:

            def store(conn: Connection) -> None:
                conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == customer_id).values(values))

            await self.db.write(store)
        return await self.get(customer_id)

    async def add_identity(self, customer_id: int, kind: str, raw: str) -> dict[str, Any]:
        await self.get(customer_id)
        try:
            value = normalize_identity(kind, raw)
        except ValueError as exc:
            raise FieldError("value", str(exc)) from None

        def store(conn: Connection) -> None:
            _claim_check(conn, [(kind, value)], customer_id, field="value")
            _add_identities(conn, customer_id, [(kind, value)])

        await self.db.write(store)
        return await self.get(customer_id)

    async def remove_identity(self, customer_id: int, identity_id: int) -> dict[str, Any]:
        await self.get(customer_id)

        def drop(conn: Connection) -> int:
            return int(
                conn.execute(
                    delete(IDENTITIES).where(
                        IDENTITIES.c.id == identity_id, IDENTITIES.c.customer_id == customer_id
                    )
                ).rowcount
            )

        if not await self.db.write(drop):
            raise IdentityNotFound(identity_id)
        return await self.get(customer_id)

    async def merge(self, keep_id: int, other_id: int) -> dict[str, Any]:
        """Fold profile `other_id` into `keep_id`, in one transaction.

        Identities, calls and profiles merged earlier into the other move to the kept
        one. Tags are united; custom fields are united with the kept profile's value
        winning on a key both have; name, source, region and external id are the kept
        profile's unless empty there; notes are both (kept first); the class is the
        higher of the two (new < returning < prospect < member < vip), so a VIP found
        twice stays a VIP. The other profile stays, marked `merged_into`, so its id
        still resolves; its own fields are left as they were.
        """
        if keep_id == other_id:
            raise FieldError("from", "a profile cannot be merged into itself")
        await self.get(keep_id)
        try:
            await self.get(other_id)
        except CustomerNotFound:
            raise FieldError("from", f"no customer {other_id}") from None
        except CustomerMerged as exc:
            raise FieldError("from", str(exc)) from None
        await self._flushed()

        def fold(conn: Connection) -> None:
            rows = conn.execute(
                select(CUSTOMERS).where(CUSTOMERS.c.id.in_([keep_id, other_id]))
            ).mappings()
            by_id = {row["id"]: row for row in rows}
            kept, other = by_id[keep_id], by_id[other_id]
            if kept["merged_into"] is not None or other["merged_into"] is not None:
                raise FieldError("from", "one of the profiles was merged meanwhile")
            conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == keep_id).values(
                _folded(kept, other)))  # fmt: skip
            for table in (IDENTITIES, CALLS):
                conn.execute(
                    update(table).where(table.c.customer_id == other_id).values(customer_id=keep_id)
                )
            # The tickets follow, so the kept profile's timeline and visibility have them.
            conn.execute(
                update(TICKETS)
                .where(TICKETS.c.requester_id == other_id)
                .values(requester_id=keep_id)
            )
            conn.execute(
                update(CUSTOMERS)
                .where(CUSTOMERS.c.merged_into == other_id)
                .values(merged_into=keep_id)
            )
            conn.execute(
                update(CUSTOMERS).where(CUSTOMERS.c.id == other_id).values(merged_into=keep_id)
            )

        await self.db.write(fold)
        return await self.get(keep_id)

    async def export(self) -> list[dict[str, Any]]:
        """Every profile (merged ones left out), oldest first."""
        out: list[dict[str, Any]] = []
        after = 0
        while rows := await self._rows(
            select(CUSTOMERS)
            .where(CUSTOMERS.c.merged_into.is_(None), CUSTOMERS.c.id > after)
            .order_by(CUSTOMERS.c.id)
            .limit(EXPORT_PAGE)
        ):
            out.extend(await self._public(rows))
            after = rows[-1]["id"]
        return out

    async def import_rows(self, rows: list[ImportRow]) -> dict[str, int]:
        """Create or update a profile per row, found by any of the row's identities; all
        rows or none (ImportRejected lists every row that cannot be stored; `csvio.parse`
        has refused the file if two rows share an identity). Cells given
        replace the stored values, identities are added; a row whose identities belong
        to two different profiles is refused (merge those first)."""
        now = self.clock.now()

        def store(conn: Connection) -> dict[str, int]:
            counts = {"created": 0, "updated": 0}
            errors: list[RowError] = []
            for row in rows:
                owners: set[int] = set()
                for kind, value in row.identities:
                    owner = conn.execute(
                        select(IDENTITIES.c.customer_id).where(
                            IDENTITIES.c.kind == kind, IDENTITIES.c.value == value
                        )
                    ).first()
                    if owner is not None:
                        owners.add(int(owner[0]))
                if len(owners) > 1:
                    ids = ", ".join(map(str, sorted(owners)))
                    errors.append(
                        RowError(
                            row.row,
                            _FIELD[row.identities[0][0]],
                            f"identities of customers {ids}: merge them first",
                        )
                    )
                if errors:
                    continue  # keep checking, to report every bad row at once
                values = _changes(row.profile)
                if owners:
                    (customer_id,) = owners
                    if values:
                        conn.execute(
                            update(CUSTOMERS).where(CUSTOMERS.c.id == customer_id).values(values)
                        )
                    counts["updated"] += 1
                else:
                    values.setdefault("display_name", row.identities[0][1])
                    values.setdefault("source", "import")
                    if "region" not in values:
                        phones = [v for k, v in row.identities if k == "phone"]
                        values["region"] = region_for_number(phones[0]) if phones else ""
                    created = insert(CUSTOMERS).values(created_at=row.created_at or now, **values)
                    customer_id = int(conn.execute(created.returning(CUSTOMERS.c.id)).scalar_one())
                    counts["created"] += 1
                _add_identities(conn, customer_id, row.identities)
            if errors:
                raise ImportRejected(errors)  # the transaction rolls back: nothing stored
            return counts

        return await self.db.write(store)

    async def enrich(self, customer_id: int, answer: CrmAnswer) -> None:
        """What the CRM knows: its name, class and external id replace ours, its tags
        join ours, its custom fields replace ours key by key (the CRM is the company's
        record of who the customer is). A profile merged meanwhile is enriched in the
        profile it went to."""

        def store(conn: Connection) -> None:
            target = customer_id
            for _ in range(2):
                row = (
                    conn.execute(select(CUSTOMERS).where(CUSTOMERS.c.id == target))
                    .mappings()
                    .first()
                )
                if row is None:
                    return
                if row["merged_into"] is None:
                    break
                target = row["merged_into"]
            else:
                return
            values: dict[str, Any] = {
                "tags": sorted(set(row["tags"] or []) | set(answer.tags)),
                "custom_fields": {**(row["custom_fields"] or {}), **answer.custom_fields},
            }
            if answer.display_name:
                values["display_name"] = answer.display_name
            if answer.customer_class:
                values["customer_class"] = answer.customer_class
            if answer.external_id:
                values["external_id"] = answer.external_id
            conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == target).values(values))

        await self.db.write(store)


def public(row: Mapping[Any, Any], identities: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON shape of a profile."""
    return {
        "id": row["id"],
        "name": row["display_name"],
        "class": row["customer_class"],
        "tags": list(row["tags"] or []),
        "custom_fields": dict(row["custom_fields"] or {}),
        "source": row["source"],
        "region": row["region"],
        "notes": row["notes"],
        "external_id": row["external_id"],
        "created_at": _iso(row["created_at"]),
        "last_contact_at": _iso(row["last_contact_at"]),
        "identities": identities,
    }


def _call_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    started, ended = aware(row["started_at"]), aware(row["ended_at"])
    duration = (ended - started).total_seconds() if started and ended else None
    agent = row["agent_display"] or row["username"]
    return {
        "kind": "call",
        "id": row["id"],
        "at": _iso(row["started_at"]),
        "direction": row["direction"],
        "state": row["state"],
        "queue": row["queue"],
        "agent": {"id": row["agent_id"], "name": agent} if row["agent_id"] else None,
        "disposition": row["disposition"],
        "wrap_up_code": row["wrap_up_code"],
        "duration_seconds": round(duration, 3) if duration is not None else None,
        "has_recording": bool(row["recording"]),
        "url": f"/api/calls/{row['id']}",
    }


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _identities(new: NewProfile) -> list[tuple[str, str]]:
    try:
        return new.identities()
    except IdentityError as exc:
        raise FieldError(exc.field, exc.message) from None


def _changes(change: ProfileChange) -> dict[str, Any]:
    """The columns a change sets (only the fields it was given)."""
    names = {"name": "display_name"}
    given = change.model_dump(include=change.model_fields_set & set(ProfileChange.model_fields))
    return {names.get(k, k): v for k, v in given.items() if v is not None}


_FIELD = {"phone": "phones", "email": "emails", "chat": "chats"}


def _claim_check(
    conn: Connection, identities: list[tuple[str, str]], owner: int | None, field: str = ""
) -> None:
    """IdentityTaken when one of `identities` belongs to a profile other than `owner`."""
    for kind, value in identities:
        taken = conn.execute(
            select(IDENTITIES.c.customer_id).where(
                IDENTITIES.c.kind == kind, IDENTITIES.c.value == value
            )
        ).first()
        if taken is not None and taken[0] != owner:
            raise IdentityTaken(field or _FIELD[kind], kind, value, int(taken[0]))


def _add_identities(conn: Connection, customer_id: int, pairs: list[tuple[str, str]]) -> None:
    for kind, value in pairs:
        exists_ = conn.execute(
            select(IDENTITIES.c.id).where(IDENTITIES.c.kind == kind, IDENTITIES.c.value == value)
        ).first()
        if exists_ is None:
            conn.execute(insert(IDENTITIES).values(customer_id=customer_id, kind=kind, value=value))


def _folded(kept: Mapping[Any, Any], other: Mapping[Any, Any]) -> dict[str, Any]:
    rank = {name: i for i, name in enumerate(CLASSES)}
    notes = "\n\n".join(n for n in (kept["notes"], other["notes"]) if n)
    kept_at, other_at = aware(kept["last_contact_at"]), aware(other["last_contact_at"])
    return {
        "tags": sorted(set(kept["tags"] or []) | set(other["tags"] or [])),
        "custom_fields": {**(other["custom_fields"] or {}), **(kept["custom_fields"] or {})},
        "display_name": kept["display_name"] or other["display_name"],
        "source": kept["source"] or other["source"],
        "region": kept["region"] or other["region"],
        "external_id": kept["external_id"] or other["external_id"],
        "notes": notes,
        "customer_class": max(
            kept["customer_class"], other["customer_class"], key=lambda c: rank.get(c, 0)
        ),
        "created_at": min(aware(kept["created_at"]), aware(other["created_at"])),  # type: ignore[type-var]
        "last_contact_at": max((at for at in (kept_at, other_at) if at is not None), default=None),
    }
