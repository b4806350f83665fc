"""The forecast endpoint on the real app, over seeded call records (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert

from callcenter.agents.state import AgentState
from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.clock import FixedClock
from callcenter.config import Settings
from tests.support.app import bearer, seed_users

CALLS = Call.__table__  # type: ignore[attr-defined]
# Monday 30 November 2026, 10:10 in Shanghai (UTC+8): the 10:00 half hour is going on.
NOW = datetime(2026, 11, 30, 2, 10, tzinfo=UTC)
TEN_AM_MONDAYS = [
    datetime(2026, 11, 30, 2, 0, tzinfo=UTC) - timedelta(weeks=w) for w in (1, 2, 3, 4)
]
ROUTING = """
queues:
  support:
    skills: {support: 1}
    handle_seconds: 240
    service_level: {seconds: 20, target: 80}
  sales:
    skills: {sales: 1}
"""


def _call(n: int, at: datetime, queue: str | None, **times: Any) -> dict[str, Any]:
    return {
        "channel_id": f"seed-{n}", "node": "local", "direction": "inbound",
        "caller_number": f"+8613800{n:06d}", "caller_name": "", "dialed_number": "100",
        "state": "ended", "started_at": at, "ended_at": at + timedelta(minutes=5),
        "queue": queue, "abandoned": False, "transfers": 0,
        "queue_seconds": 8.0, "talk_seconds": None, "hold_seconds": None,
        "wrap_up_seconds": None,
    } | times  # fmt: skip


def _history() -> list[dict[str, Any]]:
    """Four Mondays of 20 support calls at 10:00 (AHT 150 + 10 + 20 = 180 s), with what
    must not count there: a short abandon, a call without a queue, a sales call, 10:30
    calls; and five short calls at 10:00 on the Tuesdays."""
    rows: list[dict[str, Any]] = []
    handled = {"talk_seconds": 150.0, "hold_seconds": 10.0, "wrap_up_seconds": 20.0}
    for monday in TEN_AM_MONDAYS:
        for k in range(20):
            at = monday + timedelta(seconds=89 * k)  # 10:00:00 … 10:28:11
            rows.append(_call(len(rows), at, "support", **handled))
        rows.append(_call(len(rows), monday, "support", abandoned=True, queue_seconds=2.0))
        rows.append(_call(len(rows), monday, None))
        rows.append(_call(len(rows), monday, "sales", **handled))
        rows.append(_call(len(rows), monday + timedelta(minutes=30), "support"))  # 10:30
        for _ in range(5):
            rows.append(_call(len(rows), monday + timedelta(days=1), "support", talk_seconds=100.0))
    return rows


async def _seed(services: Any) -> dict[str, int]:
    ids = await seed_users(
        services, [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent"), ("cat", "agent")]
    )
    rows = _history()

    def store(conn: Connection) -> None:
        conn.execute(insert(CALLS), rows)

    await services.db.write(store)
    for name, skill in (("amy", "support"), ("bob", "sales"), ("cat", "support")):
        await services.agents.set_profile(ids[name], extension="", skills={skill: 3}, teams=[],
                                          voice_capacity=1, chat_capacity=0)  # fmt: skip
    await services.agents.change(ids["amy"], AgentState.AVAILABLE)  # support, logged in
    await services.agents.change(ids["bob"], AgentState.AVAILABLE)  # sales only
    return ids  # cat has the skill but is offline


@pytest.fixture
def client(database, tmp_path: Path) -> Iterator[TestClient]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, env="test", data_dir=tmp_path, database_url=database.url,
        timezone="Asia/Shanghai", routing_file=routing,
    )  # fmt: skip
    app = create_app(settings, with_pbx=False, clock=FixedClock(NOW))
    with TestClient(app) as c:
        c.portal.call(_seed, app.state.services)
        yield c


def test_the_day_is_forecast_and_staffed_per_half_hour(client):
    r = client.get("/api/forecast?queue=support", headers=bearer(client, "sup"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["date"], body["queue"], body["time_zone"]) == (
        "2026-11-30",
        "support",
        "Asia/Shanghai",
    )
    slots = {s["start"]: s for s in body["slots"]}
    assert len(slots) == 48
    ten = slots["2026-11-30T10:00:00+08:00"]
    # 20 calls x 180 s in 1800 s = 2 Erlangs; 80/20 needs 4 agents (3 reach only 0.60).
    assert (ten["volume"], ten["aht"], ten["aht_from"], ten["traffic"]) == (
        20.0,
        180.0,
        "history",
        2.0,
    )
    assert ten["agents_needed"] == 4 and ten["service_level_at_needed"] == pytest.approx(
        0.8607, abs=1e-4
    )
    assert ten["logged_in"] == 1  # amy; bob lacks the skill, cat is offline
    half_past = slots["2026-11-30T10:30:00+08:00"]
    assert half_past["volume"] == 1.0 and half_past["logged_in"] is None
    assert half_past["aht"] == 180.0  # too few handled there: the whole day's AHT
    night = slots["2026-11-30T03:00:00+08:00"]
    assert (night["volume"], night["agents_needed"], night["logged_in"]) == (0.0, 0, None)
    params = body["parameters"]
    assert (params["basis"], params["days_used"], params["trend"]) == ("weekday", 4, 1.0)
    assert params["weeks"] == 8 and params["history"] == {
        "first_day": "2026-10-05",
        "last_day": "2026-11-29",
    }
    assert params["service_level"] == {"seconds": 20.0, "target": 0.8}


def test_another_day_and_the_options(client):
    headers = bearer(client, "sup")
    r = client.get("/api/forecast?queue=support&date=2026-12-01&shrinkage=0.2", headers=headers)
    assert r.status_code == 200, r.text
    ten = next(s for s in r.json()["slots"] if s["start"] == "2026-12-01T10:00:00+08:00")
    # Tuesdays had 5 calls of 100 s each; nothing was logged in for a future half hour.
    assert (ten["volume"], ten["aht"], ten["logged_in"]) == (5.0, 100.0, None)
    # 0.28 Erlangs: one agent answers 76 % within 20 s, so two; 2 / 0.8 = 2.5 to schedule.
    assert (ten["agents_needed"], ten["agents_scheduled"]) == (2, 3)
    assert r.json()["slots"][18]["agents_needed"] == 0  # 09:00: no calls, nobody needed
    capped = client.get("/api/forecast?queue=support&max_occupancy=0.4", headers=headers).json()
    ten = capped["slots"][20]  # Monday 10:00: 2 Erlangs at most 40 % busy
    assert (ten["agents_needed"], ten["limited_by"]) == (5, "occupancy")
    assert capped["parameters"]["max_occupancy"] == 0.4
    sales = client.get("/api/forecast?queue=sales&date=2026-12-02", headers=headers).json()
    assert all(s["volume"] == 0 and s["aht"] == 180.0 for s in sales["slots"])  # the default
    assert sales["parameters"]["basis"] == "weekday"  # Wednesdays were quiet, not unknown


@pytest.mark.parametrize(
    ("query", "field"),
    [("queue=support&date=2026-13-01", "date"), ("queue=nope", "queue"),
     ("date=2026-12-01", "queue"), ("queue=support&shrinkage=1", "shrinkage"),
     ("queue=support&date=0001-01-01", "date"), ("queue=support&date=2028-01-01", "date")],
)  # fmt: skip
def test_bad_queries_get_a_field_level_422(client, query, field):
    r = client.get(f"/api/forecast?{query}", headers=bearer(client, "sup"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_only_report_readers_see_forecasts(client):
    assert client.get("/api/forecast?queue=support").status_code == 401
    r = client.get("/api/forecast?queue=support", headers=bearer(client, "amy"))
    assert r.status_code == 403 and "reports.read" in r.json()["detail"]
