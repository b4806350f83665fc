"""A ticket desk on the real app for automation tests: groups, agents, a customer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from callcenter.events import Event
from tests.support.app import app_client, bearer

T = TypeVar("T")
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("ann", "agent"),
         ("bob", "agent")]  # fmt: skip


def add_groups(client: TestClient, members: dict[str, list[str]], who: str = "sup") -> None:
    """Ticket groups by name with their members (seeded users' names), made by `who`;
    `client.groups`: their ids by name."""
    ids, headers = client.ids, bearer(client, who)  # type: ignore[attr-defined]
    client.groups = getattr(client, "groups", {})  # type: ignore[attr-defined]
    for name, names in members.items():
        group = client.post("/api/ticket-groups", json={"name": name}, headers=headers)
        assert group.status_code == 201, group.text
        r = client.put(f"/api/ticket-groups/{group.json()['id']}/members",
                       json={"user_ids": [ids[m] for m in names]}, headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        client.groups[name] = group.json()["id"]  # type: ignore[attr-defined]


@contextmanager
def desk(data_dir: Path, clock: FixedClock | None = None, **settings: Any) -> Iterator[TestClient]:
    """Groups support (amy, ann) and billing (bob); customer Li (li@example.com).
    `client.clock` is the app's FixedClock."""
    clock = clock or FixedClock(START)
    with app_client(data_dir, USERS, clock, **settings) as c:
        sup = bearer(c, "sup")
        c.clock = clock  # type: ignore[attr-defined]
        add_groups(c, {"support": ["amy", "ann"], "billing": ["bob"]})
        li = c.post("/api/customers", json={"name": "Li Lei", "phones": ["+8613800138000"],
                                            "emails": ["li@example.com"]}, headers=sup)  # fmt: skip
        assert li.status_code == 201, li.text
        c.customer = li.json()["id"]  # type: ignore[attr-defined]
        yield c


def new_ticket(client: TestClient, who: str = "sup", **fields: Any) -> dict[str, Any]:
    body = {"subject": "Router keeps rebooting", "requester_id": client.customer,  # type: ignore[attr-defined]
            "group_id": client.groups["support"], **fields}  # type: ignore[attr-defined]  # fmt: skip
    r = client.post("/api/tickets", json=body, headers=bearer(client, who))
    assert r.status_code == 201, r.text
    return r.json()


def get_ticket(client: TestClient, ticket_id: int) -> dict[str, Any]:
    r = client.get(f"/api/tickets/{ticket_id}", headers=bearer(client, "sup"))
    assert r.status_code == 200, r.text
    return r.json()


def changes(client: TestClient, ticket_id: int) -> list[tuple[str, str, Any]]:
    """(actor name, field, new value) of each change in the ticket's history."""
    r = client.get(f"/api/tickets/{ticket_id}/history", headers=bearer(client, "sup"))
    assert r.status_code == 200, r.text
    return [(i["actor"]["name"], i["field"], i["new"]) for i in r.json()["items"]
            if i["kind"] == "change"]  # fmt: skip


def eventually(probe: Callable[[], T], ok: Callable[[T], bool], timeout: float = 5.0) -> T:
    """Poll `probe` until `ok` holds (the app's listeners run in its own loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def settle(client: TestClient, seconds: float = 0.3) -> None:
    """Give the app's listeners time to act (to check that something did NOT happen)."""
    time.sleep(seconds)


def ticket_events(client: TestClient) -> Any:
    """A subscription to `ticket.*` and a function that returns what arrived since."""
    bus = client.app.state.services.bus  # type: ignore[attr-defined]
    sub = client.portal.call(lambda: _subscribe(bus))

    async def drain() -> list[Event]:
        got = []
        while True:
            try:
                got.append(await asyncio.wait_for(sub.get(), 0.05))
            except TimeoutError:
                return got

    return lambda: client.portal.call(drain)


async def _subscribe(bus: Any) -> Any:
    return bus.subscribe("ticket.")
