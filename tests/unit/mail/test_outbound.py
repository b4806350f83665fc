"""The Mailer against a real SMTP server (aiosmtpd): STARTTLS with a checked
certificate and a login, a refused login given up at once, an unreachable smarthost
retried with backoff."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from callcenter.backoff import Backoff
from callcenter.mail.config import MailConfig
from callcenter.mail.outbound import Mailer, MailError, Retry
from tests.support.servers import free_port
from tests.support.smtp import Smarthost


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (b"cc", b"s3cret")
    return AuthResult(success=good, handled=False)  # handled=True: no answer at all


@pytest.fixture
def tls_smarthost(certificate: tuple[Path, Path]) -> Iterator[Smarthost]:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    host = Smarthost(port=free_port())
    controller = Controller(
        host, hostname="localhost", port=host.port, tls_context=server_tls,
        require_starttls=True, authenticator=_login, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        yield host
    finally:
        controller.stop()


def _config(port: int, **values: Any) -> MailConfig:
    defaults: dict[str, Any] = {"smtp_host": "localhost", "smtp_port": port,
                                "sender": "Support <support@example.com>",
                                "sender_address": "support@example.com"}  # fmt: skip
    return MailConfig(**{**defaults, **values})


async def test_starttls_with_a_checked_certificate_and_a_login(tls_smarthost, certificate):
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    mailer = Mailer(_config(tls_smarthost.port, smtp_username="cc", smtp_password="s3cret"),
                    tls=trust)  # fmt: skip
    await mailer.send_text("li@customer.test", "您好", "正文 body")
    (message,) = tls_smarthost.received
    assert message[0] == ["li@customer.test"]
    assert message[1]["Subject"] == "您好" and message[1].get_content().strip() == "正文 body"
    assert message[1]["From"] == "Support <support@example.com>"
    # Without trusting that certificate the mail does not leave (no silent downgrade).
    untrusting = Mailer(_config(tls_smarthost.port, smtp_username="cc", smtp_password="s3cret"),
                        Retry(attempts=1))  # fmt: skip
    with pytest.raises(MailError):
        await untrusting.send_text("li@customer.test", "x", "y")
    assert len(tls_smarthost.received) == 1


async def test_a_refused_login_is_final(tls_smarthost, certificate):
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    mailer = Mailer(_config(tls_smarthost.port, smtp_username="cc", smtp_password="wrong"),
                    tls=trust)  # fmt: skip
    with pytest.raises(MailError) as refused:
        await mailer.send_text("li@customer.test", "x", "y")
    assert refused.value.permanent and refused.value.attempts == 1
    assert "535" in str(refused.value)


async def test_an_unreachable_smarthost_is_retried_with_backoff():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retry = Retry(attempts=3, backoff=Backoff(initial=2.0, factor=3.0, max=60, rand=lambda: 0.0))
    mailer = Mailer(_config(free_port(), smtp_host="127.0.0.1", smtp_starttls=False), retry, sleep)
    with pytest.raises(MailError) as gave_up:
        await mailer.send_text("li@customer.test", "x", "y")
    assert not gave_up.value.permanent and gave_up.value.attempts == 3
    assert slept == [2.0, 6.0]
    assert (mailer.sent, mailer.failed) == (0, 1)
