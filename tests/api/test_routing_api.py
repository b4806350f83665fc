"""The routing admin API on the real app: the file as loaded, and its problems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import Settings
from tests.support.app import bearer, seed_users


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("routing")
    routing = data / "routing.yaml"
    routing.write_text("queues:\n  support: {skills: {support: 2}, strategy: round_robin}\n")
    settings = Settings(_env_file=None, env="test", data_dir=data, routing_file=routing)  # type: ignore[call-arg]
    app = create_app(settings, with_pbx=False)
    with TestClient(app) as c:
        c.portal.call(seed_users, app.state.services, [("boss", "admin"), ("amy", "agent")])
        c.routing = routing  # type: ignore[attr-defined]
        yield c


def test_admins_see_queues_and_rules(client):
    body = client.get("/api/routing", headers=bearer(client, "boss")).json()
    (queue,) = body["queues"]
    assert (queue["name"], queue["skills"], queue["strategy"]) == (
        "support", {"support": 2}, "round_robin"
    )  # fmt: skip
    assert body["problems"] == []


def test_a_broken_file_is_shown_with_its_problems(client):
    good = client.routing.read_text()
    client.routing.write_text("queues:\n  support: {strategy: fastest}\n")
    try:
        body = client.get("/api/routing", headers=bearer(client, "boss")).json()
    finally:
        client.routing.write_text(good)
    assert body["queues"] == []
    (problem,) = body["problems"]
    assert (problem["line"], problem["column"], problem["severity"]) == (2, 13, "error")


def test_agents_may_not_read_it(client):
    assert client.get("/api/routing", headers=bearer(client, "amy")).status_code == 403
