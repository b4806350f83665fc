"""A customer's mail becomes a ticket, or a comment on the ticket it answers.

Which ticket a mail answers (docs/email.md): a recipient that is a ticket's signed
reply address (mail.addresses), else a Message-ID in In-Reply-To/References that one of
the ticket's mails had. Either way the sender must be the ticket's requester, and the
ticket not closed: otherwise the mail starts a new ticket (nobody comments on a ticket
that is not theirs, and a closed ticket is final).

Every mail is claimed first by its Message-ID (a unique row in `ticket_mails`), so a
redelivery is taken once; when taking it in fails, the claim is dropped and the SMTP
answer is a 4xx, so the sending server tries again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.auth.models import aware
from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.customers.fields import NewProfile, normalize_identity
from callcenter.customers.models import CustomerIdentity
from callcenter.customers.service import CustomerService, IdentityTaken
from callcenter.db import Database
from callcenter.mail.addresses import ReplyAddresses
from callcenter.mail.config import MailConfig
from callcenter.mail.models import TicketMail
from callcenter.mail.text import body_text, reply_text
from callcenter.mail.threading import message_id_of, referenced_ids
from callcenter.tickets.access import ALL_TICKETS, TICKETS
from callcenter.tickets.fields import NewTicket
from callcenter.tickets.models import TicketGroup
from callcenter.tickets.replies import MAX_BODY
from callcenter.tickets.service import TicketService

log = logging.getLogger(__name__)

MAILS = TicketMail.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]
GROUPS = TicketGroup.__table__  # type: ignore[attr-defined]
MAX_SUBJECT = 200
MAX_DESCRIPTION = 20_000
EMAIL_ROBOT = Principal.operator("email", kind="system")
# A claim older than this whose mail never became a ticket or comment was left by a
# process that died while taking it in: the next delivery of that mail takes over.
STALE_CLAIM = timedelta(minutes=10)


class Rejected(Exception):
    """A mail refused for good (the SMTP answer is 5xx): the sender gets a bounce."""


class Deferred(Exception):
    """A mail we cannot take now (4xx): the sending server retries later."""


@dataclass(frozen=True)
class Outcome:
    status: str  # ticket | comment | ignored | duplicate
    ticket_id: int | None = None
    comment_id: int | None = None


class MailIntake:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        config: MailConfig,
        tickets: TicketService,
        customers: CustomerService,
        addresses: ReplyAddresses,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.tickets = tickets
        self.customers = customers
        self.addresses = addresses

    async def receive(self, raw: bytes, recipients: list[str]) -> Outcome:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        sender_name, sender = _sender(message)
        if _automatic(message) or self._ours_or_daemon(sender):
            # An autoreply, a bounce, or our own mail come back: answering it could loop.
            log.info("mail %s from %s ignored: automatic or our own", message["Message-ID"],
                     sender)  # fmt: skip
            return Outcome("ignored")
        message_id = message_id_of(message, raw)
        mail_id = await self.db.write(lambda conn: _claim(conn, message_id, sender, self.clock))
        if mail_id is None:
            return Outcome("duplicate")
        try:
            outcome = await self._take(message, sender, sender_name, recipients)
        except Exception:
            await self.db.write(
                lambda conn: conn.execute(delete(MAILS).where(MAILS.c.id == mail_id))
            )
            raise
        done = {"status": outcome.status, "ticket_id": outcome.ticket_id,
                "comment_id": outcome.comment_id}  # fmt: skip
        await self.db.write(
            lambda conn: conn.execute(update(MAILS).where(MAILS.c.id == mail_id).values(done))
        )
        log.info("mail %s from %s: %s on ticket %s", message_id, sender, outcome.status,
                 outcome.ticket_id)  # fmt: skip
        return outcome

    def _ours_or_daemon(self, sender: str) -> bool:
        """Our own sender address or one of its reply addresses, or a mail system's."""
        local, _, domain = sender.rpartition("@")
        ours, _, our_domain = self.config.sender_address.rpartition("@")
        if ours and domain == our_domain and local.split("+", 1)[0] == ours:
            return True
        return local in ("mailer-daemon", "postmaster")

    async def _take(
        self, message: EmailMessage, sender: str, name: str, recipients: list[str]
    ) -> Outcome:
        customer_id = await self._customer(sender, name)
        text = body_text(message)
        ticket = await self._answered(message, recipients, customer_id)
        if ticket is not None:
            body = _cut(reply_text(text) or text or "(empty message)", MAX_BODY)
            comment = await self.tickets.customer_reply(int(ticket["id"]), customer_id, body,
                                                        "email")  # fmt: skip
            return Outcome("comment", int(ticket["id"]), int(comment["id"]))
        subject = " ".join(str(message.get("Subject", "")).split()) or "(no subject)"
        new = NewTicket(
            subject=_cut(subject, MAX_SUBJECT),
            description=_cut(text, MAX_DESCRIPTION),
            requester_id=customer_id,
            group_id=await self._group(recipients),
            source="email",
        )
        created = await self.tickets.create(new, EMAIL_ROBOT, ALL_TICKETS)
        return Outcome("ticket", int(created["id"]))

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    async def _customer(self, email: str, name: str) -> int:
        """The customer with this email identity, created (source "email") if none."""
        query = select(IDENTITIES.c.customer_id).where(
            IDENTITIES.c.kind == "email", IDENTITIES.c.value == email
        )
        if found := await self._rows(query):
            return int(found[0]["customer_id"])
        try:
            created = await self.customers.create(
                NewProfile(name=name[:200] or None, emails=[email]), source="email"
            )
        except IdentityTaken as taken:  # created meanwhile by a call, an import, a mail
            return taken.customer_id
        return int(created["id"])

    async def _answered(
        self, message: EmailMessage, recipients: list[str], customer_id: int
    ) -> RowMapping | None:
        """The ticket this mail answers, when it is the sender's and open to replies."""
        candidates = [t for t in map(self.addresses.ticket_of, recipients) if t is not None]
        if refs := referenced_ids(message):
            rows = await self._rows(
                select(MAILS.c.message_id, MAILS.c.ticket_id).where(
                    MAILS.c.message_id.in_(refs), MAILS.c.ticket_id.is_not(None)
                )
            )
            by_id = {r["message_id"]: int(r["ticket_id"]) for r in rows}
            candidates += [by_id[ref] for ref in refs if ref in by_id]
        for ticket_id in dict.fromkeys(candidates):
            rows = await self._rows(select(TICKETS).where(TICKETS.c.id == ticket_id))
            if rows and rows[0]["requester_id"] == customer_id and rows[0]["status"] != "closed":
                return rows[0]
        return None

    async def _group(self, recipients: list[str]) -> int:
        name = self.config.group_for(recipients)
        rows = await self._rows(select(GROUPS.c.id).where(GROUPS.c.name == name))
        if not rows:
            # Not the customer's fault: keep the mail queued at the sender while an
            # administrator creates the group (docs/email.md).
            log.error("mail for %s: no ticket group named %r (CALLCENTER_MAIL_GROUPS)",
                      recipients, name)  # fmt: skip
            raise Deferred(f"no ticket group {name!r} for this address yet")
        return int(rows[0]["id"])


def _sender(message: EmailMessage) -> tuple[str, str]:
    """The From header's name and address (normalized); Rejected when there is none."""
    pairs = getaddresses([str(message.get("From", ""))])
    name, address = pairs[0] if pairs else ("", "")
    try:
        return name.strip(), normalize_identity("email", address)
    except ValueError:
        raise Rejected("no usable From address") from None


def _automatic(message: EmailMessage) -> bool:
    """RFC 3834 Auto-Submitted, or a bulk/list/junk Precedence (older autoresponders)."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return auto != "no" or precedence in ("bulk", "list", "junk")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _claim(conn: Connection, message_id: str, sender: str, clock: Clock) -> int | None:
    """The new row's id; None for a mail taken already; Deferred while another delivery
    of it is being taken in."""
    now = clock.now()
    row = conn.execute(
        select(MAILS.c.id, MAILS.c.status, MAILS.c.created_at).where(
            MAILS.c.message_id == message_id
        )
    ).first()
    if row is not None:
        if row.status != "received":
            return None
        claimed = aware(row.created_at)
        if claimed is not None and claimed > now - STALE_CLAIM:
            raise Deferred("this message is being taken in; try again later")
        conn.execute(update(MAILS).where(MAILS.c.id == row.id).values(created_at=now))
        return int(row.id)
    try:
        values = {"message_id": message_id, "direction": "in", "address": sender[:255],
                  "status": "received", "attempts": 1, "error": "", "created_at": now}  # fmt: skip
        with conn.begin_nested():
            return int(
                conn.execute(insert(MAILS).values(values).returning(MAILS.c.id)).scalar_one()
            )
    except IntegrityError:
        raise Deferred("this message is being taken in; try again later") from None
