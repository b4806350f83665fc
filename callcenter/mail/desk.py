"""The mail components of one running server, built and stopped together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.mail.addresses import ReplyAddresses
from callcenter.mail.config import MailConfig
from callcenter.mail.inbound import SmtpReceiver
from callcenter.mail.intake import MailIntake
from callcenter.mail.notifier import ReplyMailer
from callcenter.mail.outbound import Mailer, Retry
from callcenter.portal.tokens import PortalTokens
from callcenter.tasks import TaskSupervisor

if TYPE_CHECKING:
    from callcenter.services import Services

log = logging.getLogger(__name__)


@dataclass
class MailDesk:
    """`mailer.send_text(to, subject, body)` is for anyone who mails a customer;
    `tokens` makes portal links (mails carry them, agents ask for them)."""

    config: MailConfig
    mailer: Mailer
    addresses: ReplyAddresses
    tokens: PortalTokens
    replies: ReplyMailer
    receiver: SmtpReceiver | None  # CALLCENTER_SMTP_LISTEN set
    background: TaskSupervisor  # mails sent after a request's answer (portal codes)


@asynccontextmanager
async def running_mail(
    services: Services, *, retry: Retry | None = None
) -> AsyncIterator[MailDesk]:
    settings = services.settings
    config = MailConfig.from_settings(settings)
    mailer = Mailer(config, retry)
    addresses = ReplyAddresses(config.secret, config.sender_address, config.domains)
    tokens = PortalTokens(
        config.secret,
        services.clock,
        link_days=settings.portal_link_days,
        session_minutes=settings.portal_session_minutes,
    )
    replies = ReplyMailer(
        services.db, services.bus, services.clock, mailer=mailer, addresses=addresses,
        tokens=tokens,
    )  # fmt: skip
    receiver = None
    if config.listen is not None:
        intake = MailIntake(
            services.db, services.clock, config=config, tickets=services.tickets(),
            customers=services.customers, addresses=addresses,
        )  # fmt: skip
        host, port = config.listen
        receiver = SmtpReceiver(
            intake, host=host, port=port, domains=config.domains, max_bytes=config.max_bytes,
            hostname=config.domain,
        )  # fmt: skip
    if not config.sending:
        log.info("outbound mail off (CALLCENTER_SMTP_HOST/_FROM unset): replies are not mailed")
    background = TaskSupervisor("mail-background", logger=log)
    await replies.start()
    try:
        if receiver is not None:
            await receiver.start()
        yield MailDesk(config, mailer, addresses, tokens, replies, receiver, background)
    finally:
        if receiver is not None:
            await receiver.stop()
        await replies.stop()
        await background.stop()
