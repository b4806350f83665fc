"""Real SMTP peers for mail tests: a smarthost that keeps what it is given (aiosmtpd in
its own thread, as a real MTA would be), and a sender speaking stdlib smtplib."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass
class Smarthost:
    """Messages received, and the answers to give: each DATA takes the next scripted
    answer ("451 ..." to fail once), "250 OK" when none is left."""

    port: int = 0
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.answers:
                answer = self.answers.pop(0)
                if not answer.startswith("2"):
                    return answer
            message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
            self.received.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def wait(self, count: int, within: float = 5.0) -> list[EmailMessage]:
        """The first `count` messages, once they have all arrived."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} mails, not {count}"
            time.sleep(0.02)
        return [message for _, message in self.received[:count]]


@contextmanager
def smarthost() -> Iterator[Smarthost]:
    host = Smarthost(port=free_port())
    controller = Controller(host, hostname="127.0.0.1", port=host.port)
    controller.start()
    try:
        yield host
    finally:
        controller.stop()


def mail(
    sender: str, to: str, subject: str, body: str, *, html: str = "", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if body:
        message.set_content(body)
    if html:
        if body:
            message.add_alternative(html, subtype="html")
        else:
            message.set_content(html, subtype="html")
    return message


def send(port: int, message: EmailMessage, to: list[str] | None = None) -> None:
    """Deliver `message` to the receiver on 127.0.0.1:`port` as an MTA would."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message, to_addrs=to)
