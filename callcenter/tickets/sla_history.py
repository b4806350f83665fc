"""A ticket's stored rows as the SLA engine's history (`sla.TicketEvent`s).

The tickets' tables record each changed field (`ticket_events`) and each comment; the
engine wants `created`, `agent_reply`, `customer_reply`, `status` and `priority` in
time order. Which reply is whose: a public comment with `author_customer_id` set (by mail or in the
portal) is the requester's, every other public comment an agent's; internal notes are
not replies, nor are the copies a merge makes (`copied_from_id`): they were answered,
or not, on the ticket they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from callcenter.auth.models import aware
from callcenter.tickets.sla import EventKind, Status, TicketEvent

COMMENT = "comment"  # the history row a comment leaves (tickets.service.COMMENT)


def history(
    ticket: Mapping[str, Any],
    changes: Iterable[Mapping[str, Any]],
    comments: Mapping[int, Mapping[str, Any]],
) -> list[TicketEvent]:
    """`ticket`: its row (created_at, priority, type); `changes`: its `ticket_events`
    rows in id order; `comments`: its comments by id (`public`, `author_customer_id`,
    `copied_from_id`).

    The ticket's type is read as it is now: the engine has no type change, so a type
    change re-targets the clocks from creation (docs/sla.md, "Limits").
    """
    rows = list(changes)
    first_priority = next((r["old"] for r in rows if r["field"] == "priority"), None)
    events = [
        TicketEvent(
            aware(ticket["created_at"]),
            EventKind.CREATED,
            status=Status.NEW,
            priority=first_priority or ticket["priority"],
            type=ticket["type"],
        )
    ]
    last = events[0].at
    for row in rows:
        # Ids give the order; a clock set back (tests, an NTP step) must not make the
        # engine refuse the history, so an earlier time is read as the previous one.
        field, at = row["field"], max(aware(row["at"]), last)
        last = at
        if field == "status":
            if row["old"] is None:
                continue  # the creation itself
            events.append(TicketEvent(at, EventKind.STATUS, status=Status(row["new"])))
        elif field == "priority":
            events.append(TicketEvent(at, EventKind.PRIORITY, priority=row["new"]))
        elif field == COMMENT:
            comment = comments.get(row["new"])
            if comment is None or not comment["public"] or comment.get("copied_from_id"):
                continue
            kind = (
                EventKind.CUSTOMER_REPLY
                if comment.get("author_customer_id") is not None
                else EventKind.AGENT_REPLY
            )
            events.append(TicketEvent(at, kind))
    return events
