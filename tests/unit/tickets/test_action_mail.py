"""The email action against a recording `MailSender` (the real mailer is another
module's): recipients, the rendered template, and "skipped" without a mailer."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.auth.permissions import Principal
from callcenter.clock import FixedClock
from callcenter.config import Settings
from callcenter.customers.fields import NewProfile
from callcenter.services import running_services
from callcenter.tickets.access import ALL_TICKETS
from callcenter.tickets.actions import ActionRunner
from callcenter.tickets.fields import NewTicket
from callcenter.tickets.rules import Email
from callcenter.tickets.service import TicketService

SYSTEM = Principal.operator("test", kind="system")


class Recorder:
    """A MailSender that keeps what it was asked to send."""

    def __init__(self, fail_for: str = "") -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_for = fail_for

    async def send_text(self, to: str, subject: str, body: str) -> None:
        if to == self.fail_for:
            raise ConnectionError("mail server said no")
        self.sent.append((to, subject, body))


async def test_email_goes_to_requester_group_and_address_rendered(tmp_path):
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path)  # type: ignore[call-arg]
    clock = FixedClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    async with running_services(settings, clock=clock) as services:
        li = await services.customers.create(NewProfile(name="Li", emails=["Li@Example.com"]))
        anna = await services.auth.create_user("anna", "x" * 12, "agent", actor=SYSTEM,
                                               check_password=False)  # fmt: skip
        tickets = TicketService(services.db, services.bus, clock)
        group = await tickets.create_group("support")
        await tickets.set_members(group["id"], [anna.id])
        ticket = await tickets.create(
            NewTicket(subject="No dial tone", requester_id=li["id"], group_id=group["id"]),
            SYSTEM, ALL_TICKETS,
        )  # fmt: skip
        mail = Recorder(fail_for="boss@example.com")

        async def addresses(user_ids: list[int]) -> dict[int, str]:
            return {anna.id: "anna@example.com"} if anna.id in user_ids else {}

        actions = ActionRunner(tickets, services.db, mail=mail, user_addresses=addresses)
        emails = [
            Email(type="email", to="requester", subject="#{id} {status}", body="{subject}"),
            Email(type="email", to="group", subject="s", body="b"),
            Email(type="email", to="address", address="boss@example.com", subject="s", body="b"),
            Email(type="email", to="assignee", subject="s", body="b"),
        ]
        done = await actions.run(ticket, emails, SYSTEM, cause={}, event_type="t", source={})
        assert mail.sent == [
            ("li@example.com", f"#{ticket['id']} new", "No dial tone"),
            ("anna@example.com", "s", "b"),
        ]
        assert done == ["email sent to 1 of 1", "email sent to 1 of 1", "email sent to 0 of 1",
                        "email skipped: no address for assignee"]  # fmt: skip
        without = ActionRunner(tickets, services.db, mail=None)
        assert await without.run(ticket, emails[:1], SYSTEM, cause={}, event_type="t",
                                 source={}) == ["email skipped: no mailer"]  # fmt: skip
