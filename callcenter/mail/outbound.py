"""Mail out through the installation's SMTP smarthost (CALLCENTER_SMTP_*).

stdlib smtplib in a worker thread: one connection per message, which is what a ticket
reply rate needs, and nothing stays open to go stale between replies. A transient
failure (connection refused or dropped, a 4xx answer) is retried with capped backoff; a
5xx answer is final (RFC 5321 §4.2.1: "do not repeat the exact request").
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from callcenter.backoff import Backoff
from callcenter.mail.config import MailConfig

log = logging.getLogger(__name__)

SMTP_TIMEOUT = 30.0


class MailError(Exception):
    """The message was not accepted by the smarthost; `attempts` says how often we tried."""

    def __init__(self, message: str, attempts: int, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent


class MailNotConfigured(MailError):
    def __init__(self) -> None:
        super().__init__("outbound mail is off: set CALLCENTER_SMTP_HOST and _FROM", 0,
                         permanent=True)  # fmt: skip


@dataclass(frozen=True)
class Retry:
    """How often and how patiently a message is retried; tests shorten the delays."""

    attempts: int = 4
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=2.0, factor=3.0, max=60.0))


class Mailer:
    def __init__(
        self,
        config: MailConfig,
        retry: Retry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or Retry()
        self._sleep = sleep
        # The system's CAs and hostname check unless given (a test's own CA).
        self._tls = tls
        self.sent = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return self.config.sending

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        """A plain-text message from the configured sender, with Date and Message-ID."""
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.config.domain or None)
        # RFC 3834: tells the customer's autoresponder not to answer us (no mail loops).
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(body)
        return msg

    async def send_text(self, to: str, subject: str, body: str) -> None:
        """A plain-text mail to `to`; MailError when it could not be handed over."""
        await self.send(self.message(to, subject, body))

    async def send(self, message: EmailMessage) -> int:
        """Hand `message` to the smarthost, retrying transient failures; returns how
        many attempts it took, raises MailError with the count when it gave up."""
        if not self.enabled:
            raise MailNotConfigured()
        backoff = self.retry.backoff.clone()
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await asyncio.to_thread(self._deliver, message)
            except smtplib.SMTPResponseException as exc:
                permanent = exc.smtp_code >= 500
                text = exc.smtp_error
                if isinstance(text, bytes):
                    text = text.decode(errors="replace")
                error = f"{exc.smtp_code} {text}"
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                permanent = all(code >= 500 for code in codes)
                error = f"recipients refused: {exc.recipients}"
            except (OSError, smtplib.SMTPException) as exc:
                permanent = False
                error = f"{type(exc).__name__}: {exc}"
            else:
                self.sent += 1
                return attempt
            final = permanent or attempt == self.retry.attempts
            log.warning("mail to %s, attempt %d/%d failed%s: %s", message["To"], attempt,
                        self.retry.attempts, "" if final else ", retrying", error)  # fmt: skip
            if final:
                self.failed += 1
                raise MailError(error, attempt, permanent=permanent)
            await self._sleep(backoff.next_delay())
        raise AssertionError("unreachable")  # pragma: no cover

    def _deliver(self, message: EmailMessage) -> None:
        """One SMTP session (in a worker thread)."""
        config = self.config
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.ehlo()
            if config.smtp_starttls:
                smtp.starttls(context=self._tls or ssl.create_default_context())
                smtp.ehlo()
            if config.smtp_username:
                smtp.login(config.smtp_username, config.smtp_password)
            smtp.send_message(message, from_addr=config.sender_address)
