"""Which ticket events an agent's connection forwards, from their groups alone."""

from __future__ import annotations

from callcenter.events import Event
from callcenter.tickets.audience import MEMBERS_CHANGED, TicketAudience


def test_group_tickets_assigned_tickets_and_membership_changes():
    amy = TicketAudience(3, [1])
    assert amy.sees(Event("ticket.created", {"id": 1, "group_id": 1, "assignee_id": None}))
    assert not amy.sees(Event("ticket.created", {"id": 2, "group_id": 2, "assignee_id": None}))
    assert amy.sees(Event("ticket.updated", {"id": 2, "group_id": 2, "assignee_id": 3}))
    assert amy.sees(Event("ticket.updated", {"id": 2, "group_id": 2, "from_assignee_id": 3}))
    assert amy.sees(Event("ticket.updated", {"id": 1, "group_id": 2, "from_group_id": 1}))
    merged = {"id": 5, "group_id": 2, "into": 1, "into_group_id": 1}  # merged into one of hers
    assert amy.sees(Event("ticket.merged", merged))
    assert not amy.sees(Event("call.started", {"group_id": 1}))

    amy.apply(Event(MEMBERS_CHANGED, {"group_id": 2, "members": [3, 4]}))
    assert amy.sees(Event("ticket.created", {"id": 3, "group_id": 2}))
    amy.apply(Event(MEMBERS_CHANGED, {"group_id": 1, "members": [4]}))
    assert not amy.sees(Event("ticket.created", {"id": 4, "group_id": 1}))
    amy.apply(Event("ticket.created", {"group_id": 5, "members": [3]}))  # not a change
    assert amy.groups == {2}


def test_a_connection_without_a_user_sees_no_ticket():
    token = TicketAudience(None, [])
    token.apply(Event(MEMBERS_CHANGED, {"group_id": 1, "members": [1]}))
    assert not token.sees(Event("ticket.created", {"id": 1, "group_id": 1, "assignee_id": None}))
