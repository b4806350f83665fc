"""Reply addresses and portal tokens: what the server signed it recognises; anything
altered, expired, or signed for another use it does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.clock import FixedClock
from callcenter.config import Settings, SettingsError
from callcenter.mail.addresses import ReplyAddresses
from callcenter.mail.config import MailConfig
from callcenter.portal.tokens import BadToken, PortalTokens

SECRET = "a-long-test-secret-that-nobody-else-has"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_reply_address_names_its_ticket_and_nothing_else():
    addresses = ReplyAddresses(SECRET, "support@example.com", ("example.com",))
    address = addresses.for_ticket(42)
    assert address.startswith("support+t42-") and address.endswith("@example.com")
    assert addresses.ticket_of(address) == 42
    assert addresses.ticket_of(address.upper()) == 42  # case-folded on the way back
    local, _, _ = address.partition("@")
    assert addresses.ticket_of(address.replace("+t42-", "+t43-")) is None
    assert addresses.ticket_of(f"{local}@elsewhere.test") is None
    assert addresses.ticket_of("support@example.com") is None
    other = ReplyAddresses("another-secret-of-another-server!", "support@example.com",
                           ("example.com",))  # fmt: skip
    assert other.ticket_of(address) is None


def test_portal_tokens_expire_and_do_not_pass_for_one_another():
    clock = FixedClock(START)
    tokens = PortalTokens(SECRET, clock, link_days=30, session_minutes=60)
    link, expires = tokens.link(7, 3)
    assert expires == START + timedelta(days=30)
    access = tokens.read(link)
    assert (access.ticket_id, access.customer_id) == (7, 3)
    session, _ = tokens.session(3)
    assert tokens.read(session).ticket_id is None
    kind, payload, signature = link.split(".")
    with pytest.raises(BadToken):
        tokens.read(f"ps.{payload}.{signature}")  # a link is no session
    with pytest.raises(BadToken):
        tokens.read(f"{kind}.{payload}x.{signature}")
    with pytest.raises(BadToken):
        PortalTokens("another-secret-of-another-server!", clock).read(link)
    clock.advance(timedelta(minutes=60))
    with pytest.raises(BadToken):
        tokens.read(session)
    assert tokens.read(link).ticket_id == 7


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, env="test", **values)  # type: ignore[arg-type]


def test_mail_settings_are_checked_at_start():
    config = MailConfig.from_settings(_settings(
        smtp_host="mx", smtp_from="Support <Support@Example.com>", smtp_listen="0.0.0.0:2525",
        mail_groups="billing@example.com=billing, *=general"))  # fmt: skip
    assert config.sending and config.domains == ("example.com",)
    assert config.listen == ("0.0.0.0", 2525)
    assert config.group_for(["x@example.com", "Billing@example.com"]) == "billing"
    assert config.group_for(["x@example.com"]) == "general"
    assert MailConfig.from_settings(_settings()).group_for([]) == "support"
    assert not MailConfig.from_settings(_settings()).sending
    for bad in ({"smtp_listen": "25"}, {"smtp_listen": "0.0.0.0:25"},  # no domain: open relay
                {"smtp_from": "nobody"}, {"mail_groups": "billing"}):  # fmt: skip
        with pytest.raises(SettingsError):
            MailConfig.from_settings(_settings(**bad))
