"""Tickets: groups, tickets, their history and comments (docs/tickets.md).

Every write runs in one transaction on the database's writer thread (`Database.write`),
checks included, so a refused request stores nothing. Each changed field leaves one
`ticket_events` row. Events carry ids and field names only, never text: a listener
asks the API for what it may read, so an internal note never reaches a screen that
should not show it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from callcenter.auth.models import User, aware
from callcenter.auth.permissions import Principal
from callcenter.calls.models import Call
from callcenter.clock import Clock
from callcenter.customers.access import Scope, visible
from callcenter.customers.models import Customer
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.tickets.access import ALL_TICKETS, MEMBERS, TICKETS, TicketScope, ticket_visible
from callcenter.tickets.assignment import pick
from callcenter.tickets.audience import MEMBERS_CHANGED
from callcenter.tickets.content_models import TicketAttachment
from callcenter.tickets.fields import NewComment, NewTicket, TicketChange
from callcenter.tickets.models import TicketComment, TicketEvent, TicketGroup
from callcenter.tickets.types import TypeRefused, check_ticket_type
from callcenter.tickets.workflow import TransitionRefused, check_transition

GROUPS = TicketGroup.__table__  # type: ignore[attr-defined]
CHANGES = TicketEvent.__table__  # type: ignore[attr-defined]
COMMENTS = TicketComment.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
CALLS = Call.__table__  # type: ignore[attr-defined]
ATTACHMENTS = TicketAttachment.__table__  # type: ignore[attr-defined]

COMMENT = "comment"  # the `field` of the history row a comment leaves
# Who the history names for an assignee chosen by a group's rule (tickets/assignment.py).
ASSIGNER = Principal.operator("assignment", kind="system")
ATTACHMENT = "attachment"  # … and an attachment (tickets.attachments), new: its id
# Fields whose changes the history records, in the order a PATCH applies them.
TRACKED = ("subject", "description", "type", "priority", "status", "group_id", "assignee_id",
           "tags", "custom_fields")  # fmt: skip


class TicketNotFound(LookupError):
    """Absent, or not visible to the reader: the API answers 404 either way."""


class GroupNotFound(LookupError):
    pass


class FieldError(ValueError):
    """A value refused for one field of the request body; `path` names a part of it
    (the key of a custom field: `["body", "custom_fields", "model"]`)."""

    def __init__(self, field: str, message: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.loc = (field, *path)


class TicketClosed(ValueError):
    """A closed ticket is final: it takes no change and no comment."""


class TicketService:
    """`flush` writes the call records' pending changes first (`CallService.flush`), so
    "a customer I served" (who may be a requester) does not lag the calls.
    `online` gives the users logged in now, for assignment rules that want only them."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        flush: Callable[[], Awaitable[None]] | None = None,
        online: Callable[[], Collection[int]] | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self._flush = flush
        self._online = online

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    # ------------------------------------------------------------------ groups

    async def groups(self) -> list[dict[str, Any]]:
        groups = await self._rows(select(GROUPS).order_by(GROUPS.c.name))
        members = await self._rows(select(MEMBERS).order_by(MEMBERS.c.user_id))
        by_group: dict[int, list[int]] = {g["id"]: [] for g in groups}
        for m in members:
            by_group[m["group_id"]].append(m["user_id"])
        # Names too: the ticket page's assignee choice and history show people, and
        # agents may not list users.
        ids = {m["user_id"] for m in members}
        users = await self._rows(
            select(USERS.c.id, USERS.c.username, USERS.c.display_name).where(USERS.c.id.in_(ids))
        )
        names = {u["id"]: u["display_name"] or u["username"] for u in users}
        return [{"id": g["id"], "name": g["name"], "members": by_group[g["id"]],
                 "people": [{"id": u, "name": names.get(u, "")} for u in by_group[g["id"]]]}
                for g in groups]  # fmt: skip

    async def create_group(self, name: str) -> dict[str, Any]:
        def store(conn: Connection) -> int:
            if conn.execute(select(GROUPS.c.id).where(GROUPS.c.name == name)).first():
                raise FieldError("name", f"a group named {name!r} exists")
            values = {"name": name, "created_at": self.clock.now()}
            return int(
                conn.execute(insert(GROUPS).values(values).returning(GROUPS.c.id)).scalar_one()
            )

        group_id = await self.db.write(store)
        return {"id": group_id, "name": name, "members": []}

    async def set_members(self, group_id: int, user_ids: list[int]) -> dict[str, Any]:
        """Replace the group's members. Tickets assigned to someone who leaves stay theirs."""
        wanted = sorted(set(user_ids))

        def store(conn: Connection) -> str:
            name = conn.execute(select(GROUPS.c.name).where(GROUPS.c.id == group_id)).scalar()
            if name is None:
                raise GroupNotFound(group_id)
            known = set(conn.execute(select(USERS.c.id).where(USERS.c.id.in_(wanted)))
                        .scalars())  # fmt: skip
            if unknown := [u for u in wanted if u not in known]:
                raise FieldError("user_ids", f"no such user: {', '.join(map(str, unknown))}")
            conn.execute(delete(MEMBERS).where(MEMBERS.c.group_id == group_id))
            if wanted:
                conn.execute(
                    insert(MEMBERS), [{"group_id": group_id, "user_id": u} for u in wanted]
                )
            return str(name)

        name = await self.db.write(store)
        # Live connections keep their agents' group lists from this (tickets.audience).
        await self.bus.publish(Event(MEMBERS_CHANGED, {"group_id": group_id, "members": wanted}))
        return {"id": group_id, "name": name, "members": wanted}

    async def groups_of(self, user_id: int) -> list[int]:
        """The ids of the groups `user_id` belongs to."""
        rows = await self._rows(select(MEMBERS.c.group_id).where(MEMBERS.c.user_id == user_id))
        return [int(r["group_id"]) for r in rows]

    # ------------------------------------------------------------------ reading

    async def get(self, ticket_id: int, scope: TicketScope) -> dict[str, Any]:
        rows = await self._rows(
            select(TICKETS).where(TICKETS.c.id == ticket_id, ticket_visible(scope))
        )
        if not rows:
            raise TicketNotFound(ticket_id)
        return public(rows[0])

    async def search(
        self,
        scope: TicketScope,
        *,
        status: str = "",
        group_id: int | None = None,
        assignee_id: int | None = None,
        requester_id: int | None = None,
        q: str = "",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Visible tickets, newest first; `q` matches part of the subject."""
        conds: list[Any] = [ticket_visible(scope)]
        if status:
            conds.append(TICKETS.c.status == status)
        if group_id is not None:
            conds.append(TICKETS.c.group_id == group_id)
        if assignee_id is not None:
            conds.append(TICKETS.c.assignee_id == assignee_id)
        if requester_id is not None:
            conds.append(TICKETS.c.requester_id == requester_id)
        if q := q.strip():
            like = f"%{_escape(q.lower())}%"
            conds.append(func.lower(TICKETS.c.subject).like(like, escape="\\"))
        query = select(TICKETS).where(*conds)
        total = await self._rows(select(func.count()).select_from(query.subquery()))
        rows = await self._rows(query.order_by(TICKETS.c.id.desc()).limit(limit).offset(offset))
        return [public(r) for r in rows], int(next(iter(total[0].values())))

    async def history(self, ticket_id: int, scope: TicketScope) -> list[dict[str, Any]]:
        """Changes and comments in the order they happened; the first is `status:
        null -> new`. A comment has its own row in `ticket_events` (field "comment",
        new: its id), so one id order covers both."""
        await self.get(ticket_id, scope)
        changes = await self._rows(
            select(CHANGES).where(CHANGES.c.ticket_id == ticket_id).order_by(CHANGES.c.id)
        )
        comments = await self._rows(select(COMMENTS).where(COMMENTS.c.ticket_id == ticket_id))
        by_id = {c["id"]: _comment_item(c) for c in comments}
        files = await self._rows(select(ATTACHMENTS).where(ATTACHMENTS.c.ticket_id == ticket_id))
        by_file = {a["id"]: attachment_item(a) for a in files}
        return [
            by_id[row["new"]] if row["field"] == COMMENT
            else by_file[row["new"]] if row["field"] == ATTACHMENT
            else _change_item(row)
            for row in changes
        ]  # fmt: skip

    # ------------------------------------------------------------------ writing

    async def create(self, new: NewTicket, who: Principal, scope: TicketScope) -> dict[str, Any]:
        now = self.clock.now()
        values = new.model_dump()
        values.update(status="new", created_at=now, updated_at=now)
        if self._flush is not None:
            await self._flush()
        online = self._online() if self._online is not None else None

        def store(conn: Connection) -> tuple[int, int | None]:
            _check_type(conn, new.type, new.custom_fields, new_type=True)
            _check_requester(conn, new.requester_id, scope)
            _check_group(conn, new.group_id, scope, field="group_id")
            if new.assignee_id is not None:
                _check_assignee(conn, new.assignee_id, new.group_id)
            if (
                new.call_id is not None
                and conn.execute(select(CALLS.c.id).where(CALLS.c.id == new.call_id)).first()
                is None
            ):
                raise FieldError("call_id", f"no call {new.call_id}")
            ticket_id = int(
                conn.execute(insert(TICKETS).values(values).returning(TICKETS.c.id)).scalar_one()
            )
            _record(conn, ticket_id, who, now, {"status": (None, "new")})
            if new.assignee_id is not None:
                return ticket_id, new.assignee_id
            chosen = pick(conn, new.group_id, new.type, new.tags, online)  # the group's rule
            if chosen is not None:
                _apply(conn, ticket_id, ASSIGNER, now, {"assignee_id": (None, chosen)})
            return ticket_id, chosen

        ticket_id, assignee = await self.db.write(store)
        created = {"id": ticket_id, "group_id": new.group_id, "assignee_id": assignee}
        await self.bus.publish(Event("ticket.created", created))
        return await self.get(ticket_id, ALL_TICKETS)

    async def update(
        self,
        ticket_id: int,
        change: TicketChange,
        who: Principal,
        scope: TicketScope,
        *,
        cause: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply the fields set in `change`; TransitionRefused (as a FieldError on
        `status`), FieldError, TicketClosed or TicketNotFound store nothing. `cause`
        (ids only) rides on the event: triggers use it to stop loops."""
        asked = {f: getattr(change, f) for f in TRACKED if f in change.model_fields_set}
        for field, value in asked.items():
            if value is None and field != "assignee_id":
                raise FieldError(field, "may not be null")
        now = self.clock.now()

        def store(conn: Connection) -> tuple[list[str], int, int, Any, Any]:
            row = _visible_row(conn, ticket_id, scope)
            diff = {f: (row[f], v) for f, v in asked.items() if row[f] != v}
            if row["status"] == "closed" and diff:
                if "status" in diff:
                    raise FieldError("status", str(TransitionRefused("closed", diff["status"][1])))
                raise TicketClosed(ticket_id)
            if "status" in diff:
                try:
                    check_transition(*diff["status"])
                except TransitionRefused as exc:
                    raise FieldError("status", str(exc)) from None
            if "type" in diff or "custom_fields" in diff:  # the form follows the type
                fields = diff.get("custom_fields", (None, row["custom_fields"]))[1]
                _check_type(conn, diff.get("type", (None, row["type"]))[1], fields,
                            new_type="type" in diff)  # fmt: skip
            group_id = diff.get("group_id", (None, row["group_id"]))[1]
            if "group_id" in diff:
                _check_group(conn, group_id, TicketScope("all"), field="group_id")
            assignee = diff.get("assignee_id", (None, row["assignee_id"]))[1]
            if assignee is not None and ("assignee_id" in diff or "group_id" in diff):
                _check_assignee(conn, assignee, group_id)
            if diff:
                _apply(conn, ticket_id, who, now, diff)
            return sorted(diff), int(row["group_id"]), int(group_id), row["assignee_id"], assignee

        fields, was, group_id, had, assignee = await self.db.write(store)
        if fields:
            data: dict[str, Any] = {"id": ticket_id, "group_id": group_id, "fields": fields,
                                    "assignee_id": assignee}  # fmt: skip
            if was != group_id:  # the group it left hears of it too
                data["from_group_id"] = was
            if had != assignee and had is not None:  # and so does the assignee it left
                data["from_assignee_id"] = had
            if cause:
                data["cause"] = dict(cause)
            await self.bus.publish(Event("ticket.updated", data))
        # Not `get(…, scope)`: moved to a group not theirs, the ticket is out of the
        # agent's sight from now on, but this change was theirs to make and to see.
        return await self.get(ticket_id, ALL_TICKETS)

    async def comment(
        self, ticket_id: int, new: NewComment, who: Principal, scope: TicketScope
    ) -> dict[str, Any]:
        """A reply or a note. A public reply on a `new` ticket opens it: someone acted."""
        now = self.clock.now()

        def store(conn: Connection) -> tuple[dict[str, Any], int, bool, Any]:
            row = _visible_row(conn, ticket_id, scope)
            if row["status"] == "closed":
                raise TicketClosed(ticket_id)
            stored, opened = add_comment(conn, row, who, now, body=new.body,
                                          public=new.public)  # fmt: skip
            return stored, int(row["group_id"]), opened, row["assignee_id"]

        stored, group_id, opened, assignee = await self.db.write(store)
        await self.bus.publish(Event("ticket.commented", {
            "id": ticket_id, "group_id": group_id, "comment_id": stored["id"],
            "public": new.public, "assignee_id": assignee,
        }))  # fmt: skip
        if opened:
            await self.bus.publish(Event("ticket.updated", {"id": ticket_id, "group_id": group_id,
                                                            "fields": ["status"],
                                                            "assignee_id": assignee}))  # fmt: skip
        return _comment_item(stored)

    async def customer_reply(
        self, ticket_id: int, customer_id: int, body: str, via: str
    ) -> dict[str, Any]:
        """The requester's public comment, by mail or in the portal (tickets.replies):
        TicketNotFound unless they are the requester, TicketClosed on a closed ticket."""
        from callcenter.tickets.replies import store_reply

        now = self.clock.now()
        reply = await self.db.write(lambda conn: store_reply(conn, ticket_id, customer_id,
                                                             body, now))  # fmt: skip
        ids = {"id": ticket_id, "group_id": reply.group_id, "comment_id": reply.comment["id"],
               "assignee_id": reply.assignee_id}  # fmt: skip
        await self.bus.publish(Event("ticket.commented", {**ids, "public": True, "by": "customer",
                                                          "via": via}))  # fmt: skip
        await self.bus.publish(Event("ticket.customer_replied", {**ids, "customer_id": customer_id,
                                                                 "via": via}))  # fmt: skip
        if reply.reopened_from is not None:
            await self.bus.publish(Event("ticket.updated", {**ids, "fields": ["status"]}))
        return _comment_item(reply.comment)


# ---------------------------------------------------------------------- in a transaction


def add_comment(
    conn: Connection,
    row: RowMapping,
    who: Principal,
    now: datetime,
    *,
    body: str,
    public: bool,
    customer_id: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store a reply or a note on the ticket `row` (visible, not closed: the caller's
    checks) with its history row. The stored comment, and whether it opened the ticket:
    an agent's public reply opens a `new` one (someone acted); the requester's reply
    (`customer_id`, always public) opens a pending or solved one (they wait again)."""
    ticket_id = int(row["id"])
    values = {"ticket_id": ticket_id, "author_id": who.user_id, "author_name": who.username,
              "author_customer_id": customer_id, "body": body, "public": public,
              "created_at": now}  # fmt: skip
    comment_id = conn.execute(insert(COMMENTS).values(values).returning(COMMENTS.c.id))
    stored = {"id": int(comment_id.scalar_one()), **values}
    _record(conn, ticket_id, who, now, {COMMENT: (None, stored["id"])})
    reopens = ("new",) if customer_id is None else ("pending", "solved")
    opened = public and row["status"] in reopens
    if opened:
        _apply(conn, ticket_id, who, now, {"status": (row["status"], "open")})
    else:
        conn.execute(update(TICKETS).where(TICKETS.c.id == ticket_id).values(updated_at=now))
    return stored, opened


def _visible_row(conn: Connection, ticket_id: int, scope: TicketScope) -> RowMapping:
    row = (
        conn.execute(select(TICKETS).where(TICKETS.c.id == ticket_id, ticket_visible(scope)))
        .mappings()
        .first()
    )
    if row is None:
        raise TicketNotFound(ticket_id)
    return row


def _check_requester(conn: Connection, customer_id: int, scope: TicketScope) -> None:
    """The requester exists, is not merged away, and the creator may see them: else a
    ticket would be a way to read any profile (customers.access follows tickets)."""
    readers = Scope(everyone=scope.reach == "all", user_id=scope.user_id, tickets=scope)
    row = conn.execute(
        select(CUSTOMERS.c.merged_into).where(
            CUSTOMERS.c.id == customer_id, visible(readers, CUSTOMERS.c.id)
        )
    ).first()
    if row is None:
        raise FieldError("requester_id", f"no customer {customer_id}")
    if row[0] is not None:
        raise FieldError("requester_id", f"customer {customer_id} was merged into {row[0]}")


def _check_type(
    conn: Connection, name: str, custom_fields: dict[str, Any], *, new_type: bool
) -> None:
    try:
        check_ticket_type(conn, name, custom_fields, new_type=new_type)
    except TypeRefused as exc:
        raise FieldError(exc.field, exc.message, exc.path) from None


def _check_group(conn: Connection, group_id: int, scope: TicketScope, *, field: str) -> None:
    if conn.execute(select(GROUPS.c.id).where(GROUPS.c.id == group_id)).first() is None:
        raise FieldError(field, f"no group {group_id}")
    if scope.reach != "all":
        member = select(MEMBERS).where(
            MEMBERS.c.group_id == group_id, MEMBERS.c.user_id == scope.user_id
        )
        if conn.execute(member).first() is None:
            raise FieldError(field, f"group {group_id} is not one of yours")


def _check_assignee(conn: Connection, user_id: int, group_id: int) -> None:
    member = select(MEMBERS).where(MEMBERS.c.group_id == group_id, MEMBERS.c.user_id == user_id)
    if conn.execute(member).first() is None:
        raise FieldError("assignee_id", f"user {user_id} is not a member of group {group_id}")


def _apply(
    conn: Connection, ticket_id: int, who: Principal, now: datetime, diff: dict[str, Any]
) -> None:
    values: dict[str, Any] = {f: new for f, (_, new) in diff.items()}
    values["updated_at"] = now
    if "status" in diff:
        status = diff["status"][1]
        if status == "solved":
            values["solved_at"] = now
        elif status == "open":  # reopened: no longer solved
            values["solved_at"] = None
        if status == "closed":
            values["closed_at"] = now
    conn.execute(update(TICKETS).where(TICKETS.c.id == ticket_id).values(values))
    _record(conn, ticket_id, who, now, diff)


def _record(
    conn: Connection, ticket_id: int, who: Principal, now: datetime, diff: dict[str, Any]
) -> None:
    conn.execute(insert(CHANGES), [
        {"ticket_id": ticket_id, "actor_id": who.user_id, "actor_name": who.username, "at": now,
         "field": field, "old": old, "new": new}
        for field, (old, new) in diff.items()
    ])  # fmt: skip


# ---------------------------------------------------------------------- shapes


def public(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The JSON shape of a ticket."""
    return {
        "id": row["id"],
        "subject": row["subject"],
        "description": row["description"],
        "type": row["type"],
        "priority": row["priority"],
        "status": row["status"],
        "requester_id": row["requester_id"],
        "assignee_id": row["assignee_id"],
        "group_id": row["group_id"],
        "tags": list(row["tags"] or []),
        "custom_fields": dict(row["custom_fields"] or {}),
        "source": row["source"],
        "call_id": row["call_id"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "solved_at": _iso(row["solved_at"]),
        "closed_at": _iso(row["closed_at"]),
    }


def timeline_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A ticket as an item of its requester's timeline (customers.service)."""
    return {
        "kind": "ticket",
        "id": row["id"],
        "at": _iso(row["created_at"]),
        "subject": row["subject"],
        "type": row["type"],
        "priority": row["priority"],
        "status": row["status"],
        "group_id": row["group_id"],
        "assignee_id": row["assignee_id"],
        "url": f"/api/tickets/{row['id']}",
    }


def _change_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"kind": "change", "id": row["id"], "at": _iso(row["at"]),
            "actor": {"id": row["actor_id"], "name": row["actor_name"]},
            "field": row["field"], "old": row["old"], "new": row["new"]}  # fmt: skip


def _comment_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"kind": "comment", "id": row["id"], "at": _iso(row["created_at"]),
            "author": {"id": row["author_id"], "name": row["author_name"]},
            "by": "customer" if row.get("author_customer_id") else "agent",
            "public": bool(row["public"]), "body": row["body"]}  # fmt: skip


def attachment_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An attachment as listed and in the history; `url` downloads it."""
    return {"kind": "attachment", "id": row["id"], "at": _iso(row["created_at"]),
            "uploader": {"id": row["uploader_id"], "name": row["uploader_name"]},
            "filename": row["filename"], "content_type": row["content_type"],
            "size": row["size"], "sha256": row["sha256"], "public": bool(row["public"]),
            "comment_id": row["comment_id"],
            "url": f"/api/tickets/{row['ticket_id']}/attachments/{row['id']}"}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
