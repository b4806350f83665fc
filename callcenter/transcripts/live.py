"""`call.transcript` on /ws/events: who receives a segment, and the message they get.

The bus event carries ids (call, segment, and the agent handling the call); the
connection sends the segment itself. Who: the agent handling the call, and whoever may
read every call or listen in on calls (supervisors); never other agents. The rule needs
only the event and the connection's principal, and the segment comes from the store's
cache of recent ones: no query per event per connection.
"""

from __future__ import annotations

from callcenter.auth.permissions import Permission, Principal
from callcenter.events import Event
from callcenter.transcripts.store import TRANSCRIPT_EVENT, TranscriptStore

__all__ = ["TRANSCRIPT_EVENT", "sees_transcript", "transcript_message"]

WATCHERS = (Permission.CALLS_READ_ALL, Permission.MONITOR_LISTEN)


def sees_transcript(principal: Principal, event: Event) -> bool:
    if any(p in principal.permissions for p in WATCHERS):
        return True
    return principal.user_id is not None and event.data.get("agent_id") == principal.user_id


async def transcript_message(store: TranscriptStore | None, event: Event) -> str | None:
    """The event with its `segment` as JSON, or None when the segment is gone."""
    if store is None:
        return None
    segment = await store.segment(int(event.data["segment_id"]))
    if segment is None:
        return None
    return Event(event.type, {**event.data, "segment": segment}, id=event.id, ts=event.ts).to_json()
