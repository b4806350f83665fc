"""Triggers: after a ticket is created, changed or commented, rules that hold act.

The runner listens to `ticket.` events on the bus, so it acts only on what was
committed, and a refused request (which publishes nothing) fires nothing.

Loops. A trigger's change is itself a `ticket.updated` event; it carries a `cause`
with the ids of the triggers that fired in this chain (the person's change and
everything triggers did because of it) and its depth. Triggers are checked in order
against the ticket as the event left it; every one that holds fires, in order. A
trigger already in the chain does not fire again, and a chain stops after
`MAX_CHAIN` rounds, so two triggers that undo each other run once each and stop.

The active triggers are read once and kept until a `ticket_rules.changed` event (the
API publishes one on every save and delete, from any process sharing the bus). That
event comes in order with the ticket events on the one subscription, so a ticket
changed after a rule was saved is checked against the saved rule. With no trigger, an
event costs no query.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from callcenter.auth.permissions import Principal
from callcenter.events import Event, EventBus, Subscription, handle_each
from callcenter.tasks import TaskSupervisor
from callcenter.tickets.access import ALL_TICKETS
from callcenter.tickets.actions import ActionRunner
from callcenter.tickets.rule_store import RULES_CHANGED, RuleStore
from callcenter.tickets.rules import Happening, TriggerBody, matches
from callcenter.tickets.service import TRACKED, TicketNotFound, TicketService

log = logging.getLogger(__name__)

MAX_CHAIN = 5  # rounds of triggers caused by one change
KINDS = {"ticket.created": "created", "ticket.updated": "updated",
         "ticket.commented": "commented"}  # fmt: skip


class TriggerRunner:
    """A long-lived listener: `start()` subscribes, `stop()` unsubscribes and waits."""

    def __init__(
        self, bus: EventBus, store: RuleStore, tickets: TicketService, actions: ActionRunner
    ) -> None:
        self.bus = bus
        self.store = store
        self.tickets = tickets
        self.actions = actions
        self.state = "idle"
        self._tasks = TaskSupervisor("ticket-triggers", logger=log)
        self._sub: Subscription | None = None
        self._rules: list[tuple[Mapping[str, Any], TriggerBody]] | None = None  # None: read

    def _set_state(self, state: str) -> None:
        log.info("ticket triggers: %s -> %s", self.state, state)
        self.state = state

    async def start(self) -> None:
        if self.state != "idle":
            return
        # Subscribed before start() returns: an event published right after is not missed.
        self._sub = self.bus.subscribe("ticket.", RULES_CHANGED)
        listening = handle_each(self._sub, self.handle, log=log, what="ticket triggers")
        self._tasks.spawn(listening, name="ticket-triggers")
        self._set_state("running")

    async def stop(self) -> None:
        if self.state == "stopped":
            return
        self._set_state("stopped")
        if self._sub is not None:
            self._sub.close()
        await self._tasks.stop()

    async def _active(self) -> list[tuple[Mapping[str, Any], TriggerBody]]:
        if self._rules is None:
            self._rules = await _read_rules(self.store)
        return self._rules

    async def handle(self, event: Event) -> list[str]:
        """Fire the triggers that hold for `event`; the names of those that fired."""
        if event.type == RULES_CHANGED:
            self._rules = None
            return []
        kind = KINDS.get(event.type)
        if kind is None or not (rules := await self._active()):
            return []
        cause: Mapping[str, Any] = event.data.get("cause") or {}
        chain = [int(i) for i in cause.get("chain", [])]
        depth = int(cause.get("depth", 0))
        if depth >= MAX_CHAIN:
            log.warning("ticket %s: trigger chain %s stopped at depth %d",
                        event.data.get("id"), chain, depth)  # fmt: skip
            return []
        try:
            ticket = await self.tickets.get(int(event.data["id"]), ALL_TICKETS)
        except TicketNotFound:
            return []
        changed = TRACKED if kind == "created" else tuple(event.data.get("fields", ()))
        happening = Happening(ticket, kind, changed)
        due = [(row, rule) for row, rule in rules
               if row["id"] not in chain and matches(rule.conditions, happening)]  # fmt: skip
        if not due:
            return []
        # Every trigger firing now joins the chain before any acts: the events their
        # changes cause must not fire them again.
        next_cause = {"chain": chain + [row["id"] for row, _ in due], "depth": depth + 1}
        for row, rule in due:
            who = Principal.operator(f"trigger:{row['name']}", kind="system")
            current = await self.tickets.get(int(ticket["id"]), ALL_TICKETS)
            done = await self.actions.run(
                current, rule.actions, who, cause=next_cause, event_type="ticket.trigger",
                source={"trigger_id": row["id"], "event": kind},
            )  # fmt: skip
            log.info("ticket %s: trigger %r: %s", ticket["id"], row["name"], "; ".join(done))
        return [str(row["name"]) for row, _ in due]


async def _read_rules(store: RuleStore) -> list[tuple[Mapping[str, Any], TriggerBody]]:
    rules: list[tuple[Mapping[str, Any], TriggerBody]] = []
    for row in await store.listing(active_only=True):
        try:
            rules.append((row, TriggerBody.model_validate(_body(row))))
        except ValidationError as exc:  # stored by an older version: skip, say so
            log.error("ticket trigger %r cannot be read, skipped: %s", row["name"], exc)
    return rules


def _body(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("name", "position", "active", "conditions", "actions")}
