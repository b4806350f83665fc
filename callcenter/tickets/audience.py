"""Which `ticket.*` events an agent's live connection receives, without a query per event.

An agent sees the tickets of their groups and those assigned to them (`access.py`); the
events say which group a ticket is in (and left: `from_group_id`) and who it is assigned
to (and was: `from_assignee_id`), so the rule needs only the agent's group ids. They are
read once when the connection opens and then kept current from `ticket_group.members`
events, which carry a group's whole new member list: the connection applies them in the
order they were published, among the ticket events, so no event is judged by a list
older than the change before it. The connection subscribes before it reads the list, so
a change made meanwhile is applied after the read, never lost.
"""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.events import Event

MEMBERS_CHANGED = "ticket_group.members"  # {group_id, members: [user ids]}


class TicketAudience:
    """One agent's view: their groups, and which ticket events concern them."""

    def __init__(self, user_id: int | None, groups: Iterable[int]) -> None:
        self.user_id = user_id
        self.groups = set(groups)

    def apply(self, event: Event) -> None:
        """Follow a change of a group's members (other events change nothing)."""
        if event.type != MEMBERS_CHANGED or self.user_id is None:
            return
        group_id = int(event.data["group_id"])
        if self.user_id in (event.data.get("members") or ()):
            self.groups.add(group_id)
        else:
            self.groups.discard(group_id)

    def sees(self, event: Event) -> bool:
        """A `ticket.*` event of a ticket in (or just out of) one of the agent's groups, or
        assigned (or just unassigned) to them. Anything else is not decided here."""
        if self.user_id is None or not event.type.startswith("ticket."):
            return False
        data = event.data
        groups = (data.get("group_id"), data.get("from_group_id"), data.get("into_group_id"))
        if any(g in self.groups for g in groups):  # into: the target of a merge
            return True
        return self.user_id in (data.get("assignee_id"), data.get("from_assignee_id"))
