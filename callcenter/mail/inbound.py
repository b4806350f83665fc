"""Our own SMTP receiver (aiosmtpd): customers' mail in, as tickets and replies.

Put it behind the domain's MX, or behind an MTA that relays the support domain to it
(docs/email.md). It accepts mail only for the configured domains (no open relay: a
recipient elsewhere gets 550 at RCPT, before any data is sent), refuses messages over
CALLCENTER_MAIL_MAX_BYTES (552, aiosmtpd's own check), and answers a mail it could not
take now with 451 so the sending server keeps it and retries.

The server runs on the application's event loop (not aiosmtpd's Controller thread), so
the intake talks to the database and the bus like any request handler does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, Envelope, Session

from callcenter.mail.intake import Deferred, MailIntake, Rejected

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20
State = Literal["new", "running", "stopped"]


class _Handler:
    """aiosmtpd's hooks: RCPT checks the domain, DATA hands the message to the intake."""

    def __init__(self, intake: MailIntake, domains: tuple[str, ...]) -> None:
        self.intake = intake
        self.domains = domains

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain not in self.domains:
            return f"550 5.7.1 <{address}>: relay not permitted, not a mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            outcome = await self.intake.receive(raw, list(envelope.rcpt_tos))
        except Rejected as exc:
            return f"550 5.6.0 {exc}"
        except Deferred as exc:
            return f"451 4.3.0 {exc}"
        except Exception:
            log.exception("mail from %s to %s: taking it in failed", envelope.mail_from,
                          envelope.rcpt_tos)  # fmt: skip
            return "451 4.3.0 temporary failure, try again later"
        return f"250 2.0.0 OK {outcome.status}"


class SmtpReceiver:
    def __init__(
        self,
        intake: MailIntake,
        *,
        host: str,
        port: int,
        domains: tuple[str, ...],
        max_bytes: int,
        hostname: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self._handler = _Handler(intake, domains)
        self._max_bytes = max_bytes
        self._hostname = hostname or None
        self._server: asyncio.Server | None = None
        self._start_lock = asyncio.Lock()
        self.state: State = "new"

    def _set_state(self, state: State) -> None:
        log.info("smtp receiver %s:%d: %s -> %s", self.host, self.port, self.state, state)
        self.state = state

    def _protocol(self) -> Any:
        return SMTP(
            self._handler,
            data_size_limit=self._max_bytes,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            # Customers' servers deliver to us unauthenticated (that is what an MX is);
            # relaying is refused by the domain check, not by AUTH.
            auth_require_tls=False,
        )

    async def start(self) -> None:
        async with self._start_lock:  # a second caller waits for the first
            if self.state != "new":
                return
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(self._protocol, self.host, self.port)
            self.port = int(self._server.sockets[0].getsockname()[1])  # port 0: the one given
            self._set_state("running")

    async def stop(self) -> None:
        if self.state == "stopped":
            return
        self._set_state("stopped")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
