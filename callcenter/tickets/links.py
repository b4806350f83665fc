"""Links between tickets, and solving a problem's incidents (docs/tickets.md, "Links").

A link is stored once, directed (content_models.TicketLink); each end sees it by what
the *other* ticket is to it: `related`; `problem` / `incident` (one problem behind
many incidents); `original` / `duplicate`. Both ends must be visible to whoever adds or
removes a link, and both histories get a row (field `link`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, and_, delete, insert, or_, select

from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.tickets.access import TICKETS, TicketScope, ticket_visible
from callcenter.tickets.content_models import TicketLink
from callcenter.tickets.service import (
    FieldError,
    TicketClosed,
    _apply,
    _record,
    _visible_row,
    add_comment,
    public,
)

LINKS = TicketLink.__table__  # type: ignore[attr-defined]
LINK = "link"  # the history rows' field

View = Literal["related", "problem", "incident", "original", "duplicate"]
# What the other ticket is to this one -> how the row is stored: (stored kind, this
# ticket is the row's `ticket_id` end).
_STORED: Mapping[str, tuple[str, bool]] = {
    "related": ("related", True),
    "problem": ("incident", True),  # this is an incident of the other
    "incident": ("incident", False),  # the other is an incident of this
    "original": ("duplicate", True),  # this duplicates the other
    "duplicate": ("duplicate", False),  # the other duplicates this
}
OPEN_STATUSES = ("new", "open", "pending", "on_hold")


class NewLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: Annotated[int, Field(gt=0)]
    kind: View  # what `ticket_id` is to the ticket in the path


class SolveIncidents(BaseModel):
    """An optional comment left on every incident solved (e.g. a public reply: "fixed")."""

    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    public: bool | None = None

    @model_validator(mode="after")
    def _public_with_a_body(self) -> SolveIncidents:
        if self.body is not None and self.public is None:
            raise ValueError("public: required with a body (true: a reply, false: a note)")
        return self


def view_of(row: Mapping[Any, Any], ticket_id: int) -> tuple[int, str]:
    """(the other ticket, what it is to `ticket_id`) for a stored link row."""
    mine = row["ticket_id"] == ticket_id
    other = row["other_id"] if mine else row["ticket_id"]
    kind = row["kind"]
    if kind == "incident":
        return other, "problem" if mine else "incident"
    if kind == "duplicate":
        return other, "original" if mine else "duplicate"
    return other, "related"


@dataclass(frozen=True)
class _Touched:
    """A ticket a write changed, for the events sent once it is committed."""

    ticket_id: int
    group_id: int
    fields: tuple[str, ...]


class LinkService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    async def of(self, ticket_id: int, scope: TicketScope) -> list[dict[str, Any]]:
        """Links whose other end the reader may see too; the others are left out."""
        async with self.db.engine.connect() as conn:
            return await conn.run_sync(lambda c: _links(c, ticket_id, scope))

    async def add(
        self, ticket_id: int, new: NewLink, who: Principal, scope: TicketScope
    ) -> dict[str, Any]:
        now = self.clock.now()

        def store(conn: Connection) -> tuple[dict[str, Any], list[_Touched]]:
            row = _visible_row(conn, ticket_id, scope)
            other = _other_row(conn, new.ticket_id, ticket_id, scope)
            link_ticket(conn, row, other, kind=new.kind, who=who, now=now)
            item = next(i for i in _links(conn, ticket_id, scope) if i["ticket_id"] == other["id"])
            return item, [_Touched(ticket_id, row["group_id"], ("links",)),
                          _Touched(other["id"], other["group_id"], ("links",))]  # fmt: skip

        item, touched = await self.db.write(store)
        await self._publish(touched)
        return item

    async def remove(
        self, ticket_id: int, other_id: int, who: Principal, scope: TicketScope
    ) -> None:
        now = self.clock.now()

        def store(conn: Connection) -> list[_Touched]:
            row = _visible_row(conn, ticket_id, scope)
            other = _other_row(conn, other_id, ticket_id, scope)
            link = _pair(conn, ticket_id, other_id)
            if link is None:
                raise FieldError("ticket_id", f"ticket {ticket_id} has no link to {other_id}")
            conn.execute(delete(LINKS).where(LINKS.c.id == link["id"]))
            for end in (ticket_id, other_id):
                seen, kind = view_of(link, end)
                _record(conn, end, who, now, {LINK: ({"ticket_id": seen, "kind": kind}, None)})
            return [_Touched(ticket_id, row["group_id"], ("links",)),
                    _Touched(other_id, other["group_id"], ("links",))]  # fmt: skip

        await self._publish(await self.db.write(store))

    async def solve_incidents(
        self, problem_id: int, body: SolveIncidents, who: Principal, scope: TicketScope
    ) -> dict[str, Any]:
        """Solve the problem (unless it is already) and each of its incidents the actor
        may see that is still open, in one transaction; `body` leaves a comment on each.
        Incidents already solved or closed, or out of the actor's sight, stay as they are."""
        now = self.clock.now()

        def store(conn: Connection) -> tuple[dict[str, Any], list[int], list[_Touched], list[Any]]:
            problem = _visible_row(conn, problem_id, scope)
            if problem["status"] == "closed":
                raise TicketClosed(problem_id)
            touched, comments = [], []
            if problem["status"] != "solved":
                _apply(conn, problem_id, who, now, {"status": (problem["status"], "solved")})
                touched.append(_Touched(problem_id, problem["group_id"], ("status",)))
            incidents = conn.execute(
                select(TICKETS).join(LINKS, LINKS.c.ticket_id == TICKETS.c.id)
                .where(LINKS.c.other_id == problem_id, LINKS.c.kind == "incident",
                       TICKETS.c.status.in_(OPEN_STATUSES), ticket_visible(scope))
                .order_by(TICKETS.c.id)
            ).mappings().all()  # fmt: skip
            for incident in incidents:
                status = incident["status"]
                if body.body is not None:
                    comment, opened = add_comment(conn, incident, who, now, body=body.body,
                                                  public=bool(body.public))  # fmt: skip
                    comments.append((incident["id"], incident["group_id"], comment["id"]))
                    status = "open" if opened else status
                _apply(conn, incident["id"], who, now, {"status": (status, "solved")})
                touched.append(_Touched(incident["id"], incident["group_id"], ("status",)))
            final = _visible_row(conn, problem_id, scope)
            return public(final), [int(i["id"]) for i in incidents], touched, comments

        problem, solved, touched, comments = await self.db.write(store)
        for ticket_id, group_id, comment_id in comments:
            await self.bus.publish(Event("ticket.commented", {
                "id": ticket_id, "group_id": group_id, "comment_id": comment_id,
                "public": bool(body.public),
            }))  # fmt: skip
        await self._publish(touched)
        return {"problem": problem, "solved": solved}

    async def _publish(self, touched: list[_Touched]) -> None:
        for t in touched:
            await self.bus.publish(Event("ticket.updated", {
                "id": t.ticket_id, "group_id": t.group_id, "fields": list(t.fields),
            }))  # fmt: skip


# ---------------------------------------------------------------------- in a transaction


def link_ticket(
    conn: Connection,
    row: Mapping[Any, Any],
    other: Mapping[Any, Any],
    *,
    kind: str,
    who: Principal,
    now: datetime,
) -> None:
    """Store the link "`other` is `kind` to `row`" with a history row on both; FieldError
    when the pair is linked already or the link would break the problem rules."""
    this_id, other_id = int(row["id"]), int(other["id"])
    existing = _pair(conn, this_id, other_id)
    if existing is not None:
        raise FieldError(
            "ticket_id",
            f"ticket {other_id} is already linked to {this_id} as {view_of(existing, this_id)[1]}",
        )
    stored, this_first = _STORED[kind]
    source, target = (this_id, other_id) if this_first else (other_id, this_id)
    if stored == "incident":
        _check_incident(conn, source, target)
    conn.execute(insert(LINKS).values(ticket_id=source, other_id=target, kind=stored,
                                      created_by=who.user_id, created_at=now))  # fmt: skip
    link = {"ticket_id": source, "other_id": target, "kind": stored}
    for end in (this_id, other_id):
        seen, view = view_of(link, end)
        _record(conn, end, who, now, {LINK: (None, {"ticket_id": seen, "kind": view})})


def _check_incident(conn: Connection, incident: int, problem: int) -> None:
    """One problem per incident, and no chains: a problem is not an incident itself,
    an incident has no incidents. So "the incidents of P" is one level, always."""
    rows = conn.execute(
        select(LINKS.c.ticket_id, LINKS.c.other_id).where(
            LINKS.c.kind == "incident",
            or_(LINKS.c.ticket_id.in_((incident, problem)), LINKS.c.other_id == incident),
        )
    ).all()
    for source, target in rows:
        if source == incident:
            raise FieldError("kind", f"ticket {incident} is already an incident of {target}")
        if source == problem:
            raise FieldError("kind", f"ticket {problem} is an incident of {target}, not a problem")
        if target == incident:
            raise FieldError("kind", f"ticket {incident} is a problem with incidents of its own")


def _other_row(
    conn: Connection, other_id: int, ticket_id: int, scope: TicketScope
) -> Mapping[Any, Any]:
    """The other end: visible to the actor, else as if it did not exist (422)."""
    if other_id == ticket_id:
        raise FieldError("ticket_id", "a ticket cannot be linked to itself")
    query = select(TICKETS).where(TICKETS.c.id == other_id, ticket_visible(scope))
    other = conn.execute(query).mappings().first()
    if other is None:
        raise FieldError("ticket_id", f"no ticket {other_id}")
    return other


def _pair(conn: Connection, a: int, b: int) -> Mapping[Any, Any] | None:
    query = select(LINKS).where(
        or_(and_(LINKS.c.ticket_id == a, LINKS.c.other_id == b),
            and_(LINKS.c.ticket_id == b, LINKS.c.other_id == a))
    )  # fmt: skip
    return conn.execute(query).mappings().first()


def _links(conn: Connection, ticket_id: int, scope: TicketScope) -> list[dict[str, Any]]:
    _visible_row(conn, ticket_id, scope)
    rows = conn.execute(
        select(LINKS).where(or_(LINKS.c.ticket_id == ticket_id, LINKS.c.other_id == ticket_id))
        .order_by(LINKS.c.id)
    ).mappings().all()  # fmt: skip
    others = {view_of(r, ticket_id)[0] for r in rows}
    seen = {
        t["id"]: t
        for t in conn.execute(
            select(TICKETS.c.id, TICKETS.c.subject, TICKETS.c.status)
            .where(TICKETS.c.id.in_(others), ticket_visible(scope))
        ).mappings()
    }  # fmt: skip
    items = []
    for r in rows:
        other, kind = view_of(r, ticket_id)
        if other in seen:
            items.append({"ticket_id": other, "kind": kind, "subject": seen[other]["subject"],
                          "status": seen[other]["status"]})  # fmt: skip
    return items
