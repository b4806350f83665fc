"""Doing what a trigger or an automation says, as a system principal.

Field changes go through `TicketService.update`, one call per rule, so they obey the
same checks as a person's change (status table, assignee in the group) and the history
names the rule (`trigger:<name>`, `automation:<name>`). Mail and webhooks come after
the change, so a template shows the ticket as the rule left it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, select

from callcenter.auth.models import User
from callcenter.auth.permissions import Principal
from callcenter.customers.models import CustomerIdentity
from callcenter.db import Database
from callcenter.tickets.access import ALL_TICKETS, MEMBERS
from callcenter.tickets.assignment import pick
from callcenter.tickets.fields import TicketChange
from callcenter.tickets.rules import (
    Action,
    AssignByRule,
    ChangeTags,
    Email,
    SetField,
    Webhook,
    render,
)
from callcenter.tickets.service import FieldError, TicketClosed, TicketNotFound, TicketService

log = logging.getLogger(__name__)

USERS = User.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]


class MailSender(Protocol):
    """What sending a mail needs (callcenter.mail's `Mailer` has it)."""

    async def send_text(self, to: str, subject: str, body: str) -> None: ...


class UserAddresses(Protocol):
    """Users' email addresses by id (users have no address field in this version)."""

    async def __call__(self, user_ids: list[int]) -> dict[int, str]: ...


class WebhookQueue(Protocol):
    """Queues one delivery to one webhook (callcenter.webhooks.WebhookService)."""

    async def enqueue(self, webhook_id: int, event_type: str, data: dict[str, Any]) -> bool: ...


class ActionRunner:
    def __init__(
        self,
        tickets: TicketService,
        db: Database,
        *,
        mail: MailSender | None = None,
        webhooks: WebhookQueue | None = None,
        online: Callable[[], Collection[int]] | None = None,
        user_addresses: UserAddresses | None = None,
    ) -> None:
        self.tickets = tickets
        self.db = db
        self.mail = mail
        self.user_addresses = user_addresses
        self.webhooks = webhooks
        self._online = online

    async def run(
        self,
        ticket: Mapping[str, Any],
        actions: Sequence[Action],
        who: Principal,
        *,
        cause: Mapping[str, Any],
        event_type: str,
        source: Mapping[str, Any],
    ) -> list[str]:
        """Apply `actions` to `ticket`; what happened, one line each, for the log and
        the automation's run record. A refused change does not stop the mail or hooks."""
        done: list[str] = []
        ticket_id = int(ticket["id"])
        change = await self._change(ticket, actions)
        if change:
            try:
                ticket = await self.tickets.update(
                    ticket_id, TicketChange(**change), who, ALL_TICKETS, cause=cause
                )
                done.append("changed " + ",".join(sorted(change)))
            except FieldError as exc:
                done.append(f"refused {exc.field}: {exc.message}")
            except (TicketClosed, TicketNotFound):
                done.append("refused: the ticket is closed or gone")
        for action in actions:
            if isinstance(action, Email):
                done.append(await self._email(ticket, action))
            elif isinstance(action, Webhook):
                done.append(await self._webhook(action, event_type, {"ticket_id": ticket_id,
                                                                     **source}))  # fmt: skip
        return done

    async def _change(self, ticket: Mapping[str, Any], actions: Sequence[Action]) -> dict[str, Any]:
        """The fields the set/tag/assign actions ask for, against the ticket as it is."""
        fields: dict[str, Any] = {}
        tags = list(ticket["tags"])
        assign = False
        for action in actions:
            if isinstance(action, SetField):
                fields[action.field] = action.value
            elif isinstance(action, ChangeTags):
                if action.type == "add_tags":
                    tags = sorted(set(tags) | set(action.tags))
                else:
                    tags = [t for t in tags if t not in action.tags]
            elif isinstance(action, AssignByRule):
                assign = True
        if tags != list(ticket["tags"]):
            fields["tags"] = tags
        if assign:
            group = int(fields.get("group_id", ticket["group_id"]))
            kind = str(fields.get("type", ticket["type"]))
            online = self._online() if self._online is not None else None

            def choose(conn: Connection) -> int | None:
                return pick(conn, group, kind, tags, online)

            chosen = await self.db.write(choose)
            if chosen is not None:
                fields["assignee_id"] = chosen
        return {f: v for f, v in fields.items() if ticket.get(f) != v}

    async def _email(self, ticket: Mapping[str, Any], action: Email) -> str:
        to = await self._recipients(ticket, action)
        if self.mail is None:
            log.warning("ticket %s: email action skipped: no mailer configured", ticket["id"])
            return "email skipped: no mailer"
        if not to:
            return f"email skipped: no address for {action.to}"
        subject, body = render(action.subject, ticket), render(action.body, ticket)
        sent = 0
        for address in to:
            try:
                await self.mail.send_text(address, subject, body)
                sent += 1
            except Exception as exc:  # one bad address must not lose the others
                log.warning("ticket %s: mail to %s failed: %r", ticket["id"], address, exc)
        return f"email sent to {sent} of {len(to)}"

    async def _recipients(self, ticket: Mapping[str, Any], action: Email) -> list[str]:
        if action.to == "address":
            return [str(action.address)]
        async with self.db.engine.connect() as conn:
            if action.to == "requester":
                query = (
                    select(IDENTITIES.c.value)
                    .where(IDENTITIES.c.customer_id == ticket["requester_id"],
                           IDENTITIES.c.kind == "email")
                    .order_by(IDENTITIES.c.id).limit(1)
                )  # fmt: skip
                return list((await conn.execute(query)).scalars())
            if action.to == "assignee":
                ids = [] if ticket["assignee_id"] is None else [int(ticket["assignee_id"])]
            else:
                members = (
                    select(USERS.c.id)
                    .join(MEMBERS, MEMBERS.c.user_id == USERS.c.id)
                    .where(MEMBERS.c.group_id == ticket["group_id"], USERS.c.is_active.is_(True))
                    .order_by(USERS.c.id)
                )
                ids = [int(u) for u in (await conn.execute(members)).scalars()]
        # Users have no address field yet: whoever knows them is injected.
        if not ids or self.user_addresses is None:
            return []
        known = await self.user_addresses(ids)
        return [known[u] for u in ids if known.get(u)]

    async def _webhook(self, action: Webhook, event_type: str, data: dict[str, Any]) -> str:
        if self.webhooks is None:
            return "webhook skipped: no webhook service"
        queued = await self.webhooks.enqueue(action.webhook_id, event_type, data)
        return f"webhook {action.webhook_id} {'queued' if queued else 'skipped: inactive or gone'}"
