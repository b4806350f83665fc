"""The real app under a TestClient: seeding users and logging them in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.auth.permissions import Principal
from callcenter.clock import Clock
from callcenter.config import Settings

PASSWORD = "test-app-password"


async def seed_users(services: Any, users: list[tuple[str, str]]) -> dict[str, int]:
    """Create (username, role) users with PASSWORD; their ids by username."""
    system = Principal.operator("test", kind="system")
    ids = {}
    for name, role in users:
        user = await services.auth.create_user(
            name, PASSWORD, role, actor=system, check_password=False
        )
        ids[name] = user.id
    return ids


def bearer(client: TestClient, username: str) -> dict[str, str]:
    """Headers for a request as `username` (logged in with PASSWORD)."""
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@contextmanager
def app_client(
    data_dir: Path, users: list[tuple[str, str]], clock: Clock | None = None, **settings_: Any
) -> Iterator[TestClient]:
    """The whole app without telephony on a SQLite file in `data_dir`, with `users`
    seeded (`client.ids`: their ids by name); `settings_` are further Settings fields."""
    settings = Settings(_env_file=None, env="test", data_dir=data_dir, **settings_)  # type: ignore[call-arg]
    app = create_app(settings, with_pbx=False, clock=clock)
    with TestClient(app) as client:
        client.ids = client.portal.call(seed_users, app.state.services, users)  # type: ignore[attr-defined]
        yield client
