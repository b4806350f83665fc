"""Live delivery to visitors' sockets in this process, by conversation.

The bus carries ids only (agents' desktops fetch what they may read); a visitor's
socket needs the text itself, at once, so stored messages and typing go through here.
Nothing here is the record: a socket that misses a frame (cut, or not yet subscribed)
gets it again from the database on resume, by its seq.
"""

from __future__ import annotations

import asyncio
from typing import Any

Frame = dict[str, Any]


class ChatHub:
    def __init__(self) -> None:
        self._listeners: dict[int, set[asyncio.Queue[Frame]]] = {}

    def subscribe(
        self, conversation_id: int, queue: asyncio.Queue[Frame] | None = None
    ) -> asyncio.Queue[Frame]:
        """Frames of the conversation into `queue` (a new one if None), each with its
        `conversation_id`, so one queue can follow one conversation after another."""
        queue = queue if queue is not None else asyncio.Queue()
        self._listeners.setdefault(conversation_id, set()).add(queue)
        return queue

    def unsubscribe(self, conversation_id: int, queue: asyncio.Queue[Frame]) -> None:
        listeners = self._listeners.get(conversation_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self._listeners[conversation_id]

    def publish(self, conversation_id: int, frame: Frame) -> None:
        frame = {**frame, "conversation_id": conversation_id}
        for queue in self._listeners.get(conversation_id, ()):
            queue.put_nowait(frame)

    def listeners(self, conversation_id: int) -> int:
        return len(self._listeners.get(conversation_id, ()))
