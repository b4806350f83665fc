"""The real app under a TestClient: seeding users and logging them in."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from callcenter.auth.permissions import Principal

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
