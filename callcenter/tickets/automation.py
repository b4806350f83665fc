"""Ticket automation as one long-lived component: triggers and time-based automations
sharing one action runner (docs/automation.md)."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.tickets.actions import ActionRunner
from callcenter.tickets.automations import AutomationScheduler
from callcenter.tickets.triggers import TriggerRunner


@dataclass
class TicketAutomation:
    actions: ActionRunner
    triggers: TriggerRunner
    scheduler: AutomationScheduler

    async def start(self) -> None:
        await self.triggers.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        """Idempotent; the scheduler first, so a tick does not start mid-shutdown."""
        await self.scheduler.stop()
        await self.triggers.stop()
