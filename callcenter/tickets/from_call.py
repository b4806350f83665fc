"""Tickets made from a call: by the agent who took it, or by a voicemail it left.

The requester is the call's customer profile (every call with a number has one,
`customers.find_or_create_by_phone`), the description the call's summary
(`call_summary`), the source `call` with the call's id: the ticket then links back to
the recording and the timeline. A call without a number (withheld) has no profile and
so makes no ticket: `NoRequester`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import RowMapping, select

from callcenter.auth.models import User
from callcenter.auth.permissions import Principal
from callcenter.calls.service import CallService, call_public, event_public
from callcenter.db import Database
from callcenter.tickets.access import ALL_TICKETS, TICKETS, TicketScope, ticket_visible
from callcenter.tickets.call_summary import Language, call_summary, subject
from callcenter.tickets.fields import Id, NewTicket, Priority, Subject, Type
from callcenter.tickets.service import GROUPS, FieldError, TicketService

if TYPE_CHECKING:
    from callcenter.tickets.call_summary import TranscriptLine
    from callcenter.transcripts.store import TranscriptStore

USERS = User.__table__  # type: ignore[attr-defined]


class CallTicket(BaseModel):
    """What the agent chooses; the rest comes from the call. Without `group_id`, the
    agent's group if they have just one; without `subject`, "Call from <number>"."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    group_id: Id | None = None
    type: Type = "consultation"
    priority: Priority = "normal"
    assignee_id: Id | None = None


class NoRequester(ValueError):
    """The call has no customer profile (the number was withheld)."""


class CallTickets:
    def __init__(
        self,
        tickets: TicketService,
        calls: CallService,
        *,
        zone: ZoneInfo,
        language: Language,
        transcripts: TranscriptStore | None = None,
    ) -> None:
        self.tickets = tickets
        self.calls = calls
        self.zone = zone
        self.language = language
        self.transcripts = transcripts  # with it, descriptions tell what was said

    async def from_call(
        self, call_id: int, body: CallTicket, who: Principal, scope: TicketScope
    ) -> dict[str, Any]:
        """A ticket from a call `who` may see (the route checks): CallNotFound,
        NoRequester, or the ticket service's refusals (FieldError …)."""
        call, description = await self._told(call_id)
        group_id = body.group_id or await self._only_group(who)
        new = NewTicket(
            subject=body.subject or subject(call, self.language),
            description=description,
            type=body.type,
            priority=body.priority,
            requester_id=self._requester(call),
            group_id=group_id,
            assignee_id=body.assignee_id,
            source="call",
            call_id=call_id,
        )
        return await self.tickets.create(new, who, scope)

    async def from_voicemail(self, call_id: int, group: str) -> dict[str, Any]:
        """The ticket a voicemail makes in the group named `group` (config): made by the
        system, so any caller's profile may be its requester."""
        rows = await self._rows(select(GROUPS.c.id).where(GROUPS.c.name == group))
        if not rows:
            raise FieldError("group_id", f"no ticket group named {group!r}")
        call, description = await self._told(call_id, voicemail=True)
        new = NewTicket(
            subject=subject(call, self.language, voicemail=True),
            description=description,
            requester_id=self._requester(call),
            group_id=int(rows[0]["id"]),
            source="call",
            call_id=call_id,
        )
        return await self.tickets.create(new, Principal.operator("voicemail", "system"),
                                         ALL_TICKETS)  # fmt: skip

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.tickets.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    async def _told(self, call_id: int, *, voicemail: bool = False) -> tuple[dict[str, Any], str]:
        record, events = await self.calls.get_call(call_id)
        call = call_public(record)
        agent = await self._agent_name(record.agent_id)
        lines, url = await self._transcript(call_id, voicemail)
        text = call_summary(call, [event_public(e) for e in events], agent_name=agent,
                            zone=self.zone, language=self.language, transcript=lines,
                            transcript_url=url, key_sentences=not voicemail)  # fmt: skip
        return call, text

    async def _transcript(
        self, call_id: int, voicemail: bool
    ) -> tuple[list[TranscriptLine], str | None]:
        """A voicemail's transcript whole; a conversation's key sentences; and the link."""
        if self.transcripts is None:
            return [], None
        from callcenter.transcripts.summary import Said, key_sentences, lines

        source = "voicemail" if voicemail else "live"
        said = [Said(s.speaker, s.start, s.text, s.confidence)
                for s in await self.transcripts.of_call(call_id) if s.source == source]  # fmt: skip
        if not said:
            return [], None
        picked = said if voicemail else key_sentences(said)
        return lines(picked, self.language), f"/api/calls/{call_id}/transcript"

    @staticmethod
    def _requester(call: Mapping[str, Any]) -> int:
        if call.get("customer_id") is None:
            raise NoRequester(call["id"])
        return int(call["customer_id"])

    async def _agent_name(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        rows = await self._rows(
            select(USERS.c.username, USERS.c.display_name).where(USERS.c.id == user_id)
        )
        return (rows[0]["display_name"] or rows[0]["username"]) if rows else None

    async def _only_group(self, who: Principal) -> int:
        groups = await self.tickets.groups_of(who.user_id) if who.user_id is not None else []
        if len(groups) != 1:
            why = "you are in no ticket group" if not groups else "you are in several groups"
            raise FieldError("group_id", f"choose a group: {why}")
        return groups[0]


async def call_of_visible_ticket(db: Database, call_id: int, scope: TicketScope) -> bool:
    """Whether `call_id` is the call of a ticket `scope` may see."""
    query = select(TICKETS.c.id).where(TICKETS.c.call_id == call_id, ticket_visible(scope))
    async with db.engine.connect() as conn:
        return (await conn.execute(query.limit(1))).first() is not None
