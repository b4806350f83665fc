"""Chat test set-up: a routing file with a chat queue, agents ready to chat, and a
visitor's websocket speaking the widget's protocol (docs/chat.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.support.app import bearer

ROUTING = """
queues:
  phones:
    skills: {voice: 1}
    wrap_up: 0
  chat:
    channel: chat
    skills: {chat: 1}
    ring_timeout: 30
    wrap_up: 0
  chat_vip:
    channel: chat
    skills: {chat: 1}
    ring_timeout: 30
    wrap_up: 0
"""


def routing_file(directory: Path) -> Path:
    path = directory / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    return path


def chat_agent(
    client: TestClient, admin: str, name: str, *, capacity: int = 3,
    skills: dict[str, int] | None = None, available: bool = True,
) -> dict[str, str]:  # fmt: skip
    """`name` with the chat skill and `capacity` chats, logged in (available); their headers."""
    body = {"skills": skills or {"chat": 1}, "chat_capacity": capacity}
    r = client.put(f"/api/agents/{client.ids[name]}/profile", json=body,  # type: ignore[attr-defined]
                   headers=bearer(client, admin))  # fmt: skip
    assert r.status_code == 200, r.text
    headers = bearer(client, name)
    if available:
        r = client.put("/api/agents/me/state", json={"state": "available"}, headers=headers)
        assert r.status_code == 200, r.text
    return headers


def hello(site: str = "demo", **fields: Any) -> dict[str, Any]:
    page = {"url": "https://shop.example/pricing?utm_source=ads", "referrer":
            "https://www.google.com/search?q=cheap+phones", "search": "cheap phones",
            "utm": {"utm_source": "ads"}}  # fmt: skip
    return {"type": "hello", "site": site, "page": page, **fields}


def receive_until(ws: Any, kind: str, limit: int = 50) -> dict[str, Any]:
    """The next frame of type `kind`, skipping others (typing, state …)."""
    for _ in range(limit):
        frame = ws.receive_json()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame in {limit}")


def events_until(ws: Any, kind: str, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        event = ws.receive_json()
        if event["type"] == kind:
            return event
    raise AssertionError(f"no {kind} event in {limit}")
