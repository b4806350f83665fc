"""Public agent replies, mailed to the requester; internal notes and the customer's own
replies never are.

A long-lived component: it listens to `ticket.commented` on the bus and mails each
public agent reply on its own ticket's lane (mails of one ticket leave in order; a slow
smarthost for one does not hold back the others). Every mail is a `ticket_mails` row:
queued, then sent or failed with the attempts and the error, and a failure is published
as `ticket.mail_failed`, so an agent sees what the customer did not get.
"""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from typing import Any, Literal

from sqlalchemy import Connection, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.clock import Clock
from callcenter.customers.models import CustomerIdentity
from callcenter.db import Database
from callcenter.events import Event, EventBus, Subscription
from callcenter.mail.addresses import ReplyAddresses
from callcenter.mail.models import TicketMail
from callcenter.mail.outbound import Mailer, MailError
from callcenter.mail.text import REPLY_MARKER
from callcenter.mail.threading import reply_message_id
from callcenter.portal.tokens import PortalTokens
from callcenter.signing import Signer
from callcenter.tasks import SerialExecutor, TaskSupervisor
from callcenter.tickets.access import TICKETS
from callcenter.tickets.models import TicketComment

log = logging.getLogger(__name__)

MAILS = TicketMail.__table__  # type: ignore[attr-defined]
COMMENTS = TicketComment.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]
THREADED = ("ticket", "comment", "sent")  # mails the customer has seen
MAX_REFERENCES = 20  # RFC 5322 allows trimming the middle of long References

State = Literal["new", "running", "stopped"]


class ReplyMailer:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        *,
        mailer: Mailer,
        addresses: ReplyAddresses,
        tokens: PortalTokens,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.mailer = mailer
        self.addresses = addresses
        self.tokens = tokens
        self._ids = Signer(mailer.config.secret, "ticket-message-id")
        self._tasks = TaskSupervisor("reply-mail", logger=log)
        self._lanes: SerialExecutor[int] = SerialExecutor(self._tasks, name="reply-mail")
        self._subscription: Subscription | None = None
        self.state: State = "new"

    def _set_state(self, state: State) -> None:
        log.info("reply mail: %s -> %s", self.state, state)
        self.state = state

    async def start(self) -> None:
        if self.state != "new":
            return
        # Subscribed before start() returns: a reply made right after start-up is heard.
        self._subscription = self.bus.subscribe("ticket.commented")
        self._tasks.spawn(self._listen(self._subscription), name="reply-mail-listen")
        self._set_state("running")

    async def stop(self) -> None:
        """Stop listening; mails still being retried are given up (their rows stay queued)."""
        if self.state == "stopped":
            return
        self._set_state("stopped")
        if self._subscription is not None:
            self._subscription.close()
        await self._tasks.stop()

    async def join(self) -> None:
        """Wait until every mail heard of so far was sent or failed (tests, shutdown)."""
        for _ in range(3):  # the listener's turn to take what the bus just delivered
            await asyncio.sleep(0)
        await self._lanes.join()

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            data = event.data
            if data.get("public") is True and data.get("by") != "customer":
                ticket_id, comment_id = int(data["id"]), int(data["comment_id"])
                self._lanes.submit(ticket_id, self.deliver(ticket_id, comment_id),
                                   name=f"mail comment {comment_id}")  # fmt: skip

    async def deliver(self, ticket_id: int, comment_id: int) -> int | None:
        """Mail one public agent reply; the `ticket_mails` id, or None when there is
        nothing to send (no email identity, mail off, a note, mailed already)."""
        found = await self._load(ticket_id, comment_id)
        if found is None:
            return None
        ticket, comment, to = found
        if not self.mailer.enabled:
            log.info("ticket %d: comment %d not mailed, outbound mail is off", ticket_id,
                     comment_id)  # fmt: skip
            return None
        message_id = reply_message_id(self._ids, self.mailer.config.domain, ticket_id, comment_id)
        mail_id = await self.db.write(lambda conn: _claim(conn, ticket_id, comment_id, message_id,
                                                         to=to, clock=self.clock))  # fmt: skip
        if mail_id is None:
            return None  # another controller process took it
        message = self._message(ticket, comment, to, message_id, await self._thread(ticket_id))
        try:
            attempts = await self.mailer.send(message)
        except MailError as exc:
            await self._finish(mail_id, "failed", exc.attempts, str(exc))
            await self.bus.publish(Event("ticket.mail_failed", {
                "id": ticket_id, "group_id": ticket["group_id"], "comment_id": comment_id,
                "mail_id": mail_id}))  # fmt: skip
            return mail_id
        await self._finish(mail_id, "sent", attempts, "")
        return mail_id

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    async def _load(
        self, ticket_id: int, comment_id: int
    ) -> tuple[RowMapping, RowMapping, str] | None:
        query = select(COMMENTS).where(COMMENTS.c.id == comment_id)
        comments = await self._rows(query)
        if not comments or comments[0]["ticket_id"] != ticket_id or not comments[0]["public"]:
            return None
        if comments[0]["author_customer_id"] is not None:
            return None
        tickets = await self._rows(select(TICKETS).where(TICKETS.c.id == ticket_id))
        emails = await self._rows(
            select(IDENTITIES.c.value)
            .where(IDENTITIES.c.customer_id == tickets[0]["requester_id"],
                   IDENTITIES.c.kind == "email")
            .order_by(IDENTITIES.c.id)
            .limit(1)
        )  # fmt: skip
        if not emails:
            return None
        return tickets[0], comments[0], str(emails[0]["value"])

    async def _thread(self, ticket_id: int) -> list[str]:
        """The ticket's earlier mails' ids, oldest first: the References chain."""
        rows = await self._rows(
            select(MAILS.c.message_id)
            .where(MAILS.c.ticket_id == ticket_id, MAILS.c.status.in_(THREADED))
            .order_by(MAILS.c.id)
        )
        ids = [r["message_id"] for r in rows if r["message_id"].startswith("<")]
        return ids[:1] + ids[1:][-(MAX_REFERENCES - 1) :] if ids else []

    def _message(
        self,
        ticket: RowMapping,
        comment: RowMapping,
        to: str,
        message_id: str,
        thread: list[str],
    ) -> EmailMessage:
        ticket_id = int(ticket["id"])
        link, _ = self.tokens.link(ticket_id, int(ticket["requester_id"]))
        url = f"{self.mailer.config.public_url}/portal.html#token={link}"
        body = (f"{REPLY_MARKER}\n\n{comment['body']}\n\n-- \n"
                f"{comment['author_name']} · ticket #{ticket_id} ({ticket['status']})\n"
                f"See the ticket and reply online / 在线查看工单并回复:\n{url}\n")  # fmt: skip
        message = self.mailer.message(to, f"[#{ticket_id}] {ticket['subject']}", body)
        message.replace_header("Message-ID", message_id)
        message["Reply-To"] = self.addresses.for_ticket(ticket_id)
        if thread:
            message["In-Reply-To"] = thread[-1]
            message["References"] = " ".join(thread)
        return message

    async def _finish(self, mail_id: int, status: str, attempts: int, error: str) -> None:
        values: dict[str, Any] = {"status": status, "attempts": attempts, "error": error[:2000]}
        if status == "sent":
            values["sent_at"] = self.clock.now()

        def store(conn: Connection) -> None:
            conn.execute(update(MAILS).where(MAILS.c.id == mail_id).values(values))

        await self.db.write(store)


def _claim(
    conn: Connection, ticket_id: int, comment_id: int, message_id: str, *, to: str, clock: Clock
) -> int | None:
    if conn.execute(select(MAILS.c.id).where(MAILS.c.message_id == message_id)).first():
        return None
    try:
        with conn.begin_nested():
            return int(conn.execute(insert(MAILS).values(
                message_id=message_id, ticket_id=ticket_id, comment_id=comment_id,
                direction="out", address=to, status="queued", attempts=0, error="",
                created_at=clock.now()).returning(MAILS.c.id)).scalar_one())  # fmt: skip
    except IntegrityError:  # the same row, inserted by another process meanwhile
        return None
