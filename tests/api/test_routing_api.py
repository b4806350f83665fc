"""The routing admin API on the real app: the file as loaded, and its problems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.config import Settings
from tests.support.app import bearer, seed_users

ROUTING = """\
# Our queues: edited by hand and from the admin page.
queues:
  support: {skills: {support: 2}, strategy: round_robin}  # the main team
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("routing")
    routing = data / "routing.yaml"
    routing.write_text(ROUTING)
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


def test_an_admin_adds_a_queue_and_the_file_keeps_its_comments(client):
    boss = bearer(client, "boss")
    try:
        body = {"skills": {"billing": 1}, "strategy": "least_busy", "ring_timeout": 12,
                "overflow": {"to": "queue", "queue": "support"}, "max_wait": 90}  # fmt: skip
        saved = client.put("/api/routing/queues/billing", json=body, headers=boss)
        assert saved.status_code == 200, saved.text
        assert (saved.json()["strategy"], saved.json()["ring_timeout"]) == ("least_busy", 12)
        text = client.routing.read_text()
        assert "# the main team" in text and "# Our queues" in text
        assert "billing:" in text and "wrap_up" not in text  # only what was sent
        router = client.app.state.services.routing.router
        assert router.queue("billing").overflow.target == "support"  # live, no restart
        names = [q["name"] for q in client.get("/api/routing", headers=boss).json()["queues"]]
        assert names == ["support", "billing"]
    finally:
        client.routing.write_text(ROUTING)


def test_a_queue_is_replaced_whole(client):
    boss = bearer(client, "boss")
    try:
        saved = client.put("/api/routing/queues/support", json={"wrap_up": 5}, headers=boss)
        assert saved.status_code == 200, saved.text
        assert (saved.json()["wrap_up"], saved.json()["skills"]) == (5, {})
    finally:
        client.routing.write_text(ROUTING)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"strategy": "fastest"}, "strategy"),
        ({"ring_timout": 5}, "ring_timout"),
        ({"ring_timeout": -1}, "ring_timeout"),
    ],
)
def test_bad_queue_settings_are_refused_field_by_field(client, body, where):
    before = client.routing.read_text()
    answer = client.put("/api/routing/queues/sales", json=body, headers=bearer(client, "boss"))
    assert answer.status_code == 422
    assert where in [str(part) for part in answer.json()["detail"][0]["loc"]]
    assert client.routing.read_text() == before


def test_overflow_to_a_missing_queue_is_refused_with_the_reason(client):
    before = client.routing.read_text()
    body = {"overflow": {"to": "queue", "queue": "suport"}}
    answer = client.put("/api/routing/queues/sales", json=body, headers=bearer(client, "boss"))
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert "unknown queue 'suport'" in problem["message"] and "support" in problem["message"]
    assert client.routing.read_text() == before


def test_removing_queues(client):
    boss = bearer(client, "boss")
    try:
        client.put("/api/routing/queues/spare", json={}, headers=boss)
        assert client.delete("/api/routing/queues/spare", headers=boss).status_code == 204
        assert "spare" not in client.routing.read_text()
        assert "spare" not in client.app.state.services.routing.router.queue_names
        assert client.delete("/api/routing/queues/spare", headers=boss).status_code == 404
        # The shipped IVR flows send callers to 'support': it stays.
        refused = client.delete("/api/routing/queues/support", headers=boss)
        assert refused.status_code == 409 and "IVR flow" in refused.json()["detail"]
    finally:
        client.routing.write_text(ROUTING)


def test_agents_may_not_edit_queues(client):
    answer = client.put("/api/routing/queues/x", json={}, headers=bearer(client, "amy"))
    assert answer.status_code == 403
