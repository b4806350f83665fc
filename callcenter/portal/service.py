"""What a customer may do in the portal: prove their email with a one-time code, read
their tickets (status and public comments only), and reply.

Every read is narrowed to the tickets whose requester is the customer, and for a ticket
link to its one ticket: any other id is absent (TicketNotFound, a 404), exactly as a
ticket nobody has.

One-time codes: six digits, mailed, kept only as an HMAC (a database dump does not log
anyone in), valid CODE_MINUTES, at most CODE_ATTEMPTS wrong guesses each and
CODES_PER_WINDOW per address per CODE_WINDOW; a code is used once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from callcenter.auth.models import aware
from callcenter.clock import Clock
from callcenter.customers.fields import normalize_identity
from callcenter.customers.models import Customer, CustomerIdentity
from callcenter.db import Database
from callcenter.mail.outbound import Mailer, MailError
from callcenter.portal.models import PortalCode
from callcenter.portal.tokens import PortalAccess, PortalTokens
from callcenter.signing import Signer
from callcenter.tasks import TaskSupervisor
from callcenter.tickets.access import TICKETS
from callcenter.tickets.models import TicketComment
from callcenter.tickets.service import FieldError, TicketNotFound, TicketService

log = logging.getLogger(__name__)

CODES = PortalCode.__table__  # type: ignore[attr-defined]
COMMENTS = TicketComment.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]

CODE_MINUTES = 10
CODE_ATTEMPTS = 5
CODES_PER_WINDOW = 3
CODE_WINDOW = timedelta(minutes=15)


class MailUnavailable(Exception):
    """Codes travel by mail, and outbound mail is off."""


class TooManyCodes(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many codes asked for; retry in {retry_after}s")
        self.retry_after = retry_after


class BadCode(Exception):
    """Wrong, used, expired, or tried too often: one answer for all."""


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime
    customer_id: int


class PortalService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        tickets: TicketService,
        mailer: Mailer,
        tokens: PortalTokens,
        secret: str,
        background: TaskSupervisor,
    ) -> None:
        self.db = db
        self.clock = clock
        self.tickets = tickets
        self.mailer = mailer
        self.tokens = tokens
        self.background = background
        self._codes = Signer(secret, "portal-login-code")

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    # ------------------------------------------------------------------ login

    async def request_code(self, raw_email: str) -> None:
        """Mail a login code to `raw_email` if it is a customer's. The answer is the same
        whether it is or not, so the form does not tell who is a customer."""
        email = _email(raw_email)
        if not self.mailer.enabled:
            raise MailUnavailable()
        now = self.clock.now()
        code = f"{secrets.randbelow(1_000_000):06d}"

        def store(conn: Connection) -> int | None:
            since = now - CODE_WINDOW
            recent = [aware(at) for at in conn.execute(
                select(CODES.c.created_at).where(CODES.c.email == email, CODES.c.created_at > since)
                .order_by(CODES.c.created_at)).scalars()]  # fmt: skip
            if len(recent) >= CODES_PER_WINDOW:
                first = recent[0] or now
                raise TooManyCodes(max(1, int((first + CODE_WINDOW - now).total_seconds())))
            customer = conn.execute(select(IDENTITIES.c.customer_id).where(
                IDENTITIES.c.kind == "email", IDENTITIES.c.value == email)).scalar()  # fmt: skip
            if customer is None:
                return None
            conn.execute(insert(CODES).values(
                email=email, customer_id=customer, code_hash=self._hash(email, code), attempts=0,
                created_at=now, expires_at=now + timedelta(minutes=CODE_MINUTES)))  # fmt: skip
            return int(customer)

        if await self.db.write(store) is None:
            return
        # Sent after the answer: a request for a known address takes no longer than one
        # for an unknown one, and a failure (logged) is not answered, or either would
        # tell who is a customer. Retries do not hold the request either.
        self.background.spawn(self._send_code(email, code), name="portal-code-mail")

    async def _send_code(self, email: str, code: str) -> None:
        try:
            await self._mail_code(email, code)
        except MailError as exc:
            log.error("portal sign-in code not sent: %s", exc)

    async def _mail_code(self, email: str, code: str) -> None:
        await self.mailer.send_text(
            email,
            "Your sign-in code / 您的登录验证码",
            f"{code}\n\nSign in to see your tickets; the code is valid for {CODE_MINUTES} "
            f"minutes.\n请使用此验证码登录查看您的工单，{CODE_MINUTES} 分钟内有效。\n\n"
            "If you did not ask for it, ignore this mail. / 如非本人操作，请忽略本邮件。\n",
        )

    async def login(self, raw_email: str, code: str) -> Session:
        email = _email(raw_email)
        now = self.clock.now()

        def check(conn: Connection) -> int | None:
            row = conn.execute(
                select(CODES).where(CODES.c.email == email, CODES.c.used_at.is_(None),
                                    CODES.c.expires_at > now)
                .order_by(CODES.c.id.desc()).limit(1)
            ).mappings().first()  # fmt: skip
            if row is None or row["attempts"] >= CODE_ATTEMPTS:
                return None
            if not secrets.compare_digest(row["code_hash"], self._hash(email, code)):
                conn.execute(update(CODES).where(CODES.c.id == row["id"])
                             .values(attempts=CODES.c.attempts + 1))  # fmt: skip
                return None
            conn.execute(update(CODES).where(CODES.c.id == row["id"]).values(used_at=now))
            # Merged since the code was sent: the tickets moved to the kept profile.
            kept = conn.execute(select(CUSTOMERS.c.merged_into)
                                .where(CUSTOMERS.c.id == row["customer_id"])).scalar()  # fmt: skip
            return int(kept if kept is not None else row["customer_id"])

        customer_id = await self.db.write(check)
        if customer_id is None:
            raise BadCode()
        token, expires = self.tokens.session(customer_id)
        return Session(token, expires, customer_id)

    def _hash(self, email: str, code: str) -> str:
        return self._codes.digest(f"{email}:{code}").hex()

    # ------------------------------------------------------------------ reading

    async def me(self, access: PortalAccess) -> dict[str, Any]:
        rows = await self._rows(
            select(CUSTOMERS.c.display_name).where(CUSTOMERS.c.id == access.customer_id)
        )
        return {
            "customer_id": access.customer_id,
            "name": rows[0]["display_name"] if rows else "",
            "ticket_id": access.ticket_id,
            "expires_at": access.expires_at.isoformat(),
        }

    async def own_tickets(self, access: PortalAccess) -> list[dict[str, Any]]:
        query = select(TICKETS).where(TICKETS.c.requester_id == access.customer_id)
        if access.ticket_id is not None:
            query = query.where(TICKETS.c.id == access.ticket_id)
        rows = await self._rows(query.order_by(TICKETS.c.id.desc()).limit(200))
        return [_ticket(row) for row in rows]

    async def ticket(self, access: PortalAccess, ticket_id: int) -> dict[str, Any]:
        row = await self._own(access, ticket_id)
        comments = await self._rows(
            select(COMMENTS)
            .where(COMMENTS.c.ticket_id == ticket_id, COMMENTS.c.public.is_(True))
            .order_by(COMMENTS.c.id)
        )
        return {**_ticket(row), "description": row["description"],
                "comments": [_comment(c) for c in comments]}  # fmt: skip

    async def reply(self, access: PortalAccess, ticket_id: int, body: str) -> dict[str, Any]:
        await self._own(access, ticket_id)
        stored = await self.tickets.customer_reply(ticket_id, access.customer_id, body, "portal")
        return {"id": stored["id"], "at": stored["at"], "by": "customer",
                "author": stored["author"]["name"], "body": stored["body"]}  # fmt: skip

    async def _own(self, access: PortalAccess, ticket_id: int) -> RowMapping:
        if access.ticket_id is not None and access.ticket_id != ticket_id:
            raise TicketNotFound(ticket_id)
        rows = await self._rows(
            select(TICKETS).where(
                TICKETS.c.id == ticket_id, TICKETS.c.requester_id == access.customer_id
            )
        )
        if not rows:
            raise TicketNotFound(ticket_id)
        return rows[0]


def _email(raw: str) -> str:
    try:
        return normalize_identity("email", raw)
    except ValueError as exc:
        raise FieldError("email", str(exc)) from None


def _ticket(row: Mapping[Any, Any]) -> dict[str, Any]:
    """What the requester sees of a ticket: no group, assignee, tags or custom fields."""
    return {"id": row["id"], "subject": row["subject"], "status": row["status"],
            "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"]),
            "solved_at": _iso(row["solved_at"])}  # fmt: skip


def _comment(row: Mapping[Any, Any]) -> dict[str, Any]:
    by = "customer" if row["author_customer_id"] is not None else "agent"
    return {"id": row["id"], "at": _iso(row["created_at"]), "by": by,
            "author": row["author_name"], "body": row["body"]}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None
