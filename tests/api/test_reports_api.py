"""Reports over REST on the real app (SQLite and PostgreSQL): the same numbers as JSON
and CSV, field errors for bad input, reports.read required."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.api.app import create_app
from callcenter.clock import FixedClock
from callcenter.config import Settings
from tests.support.app import bearer, seed_users
from tests.support.reports import DAY, Floor, play_day

SERVICE = "/api/reports/service?from=2026-03-02&to=2026-03-02"


async def _seed(services: Any, clock: FixedClock) -> None:
    ids = await seed_users(services, [("boss", "admin"), ("sup", "supervisor"),
                                      ("ann", "agent"), ("bob", "agent")])  # fmt: skip
    floor = Floor(services.calls, services.reports.writer, clock)
    await play_day(floor, [ids["ann"], ids["bob"]])
    clock.set(DAY.replace(hour=12))  # tokens are issued and checked on this clock


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def client(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("reports")
    url, drop = "", None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = server.create_database(template=request.getfixturevalue("_postgres_template"))
        url, drop = server.url(name), lambda: server.drop_database(name)
    settings = Settings(_env_file=None, env="test", data_dir=data_dir,  # type: ignore[call-arg]
                        database_url=url, timezone="Asia/Shanghai")  # fmt: skip
    clock = FixedClock(DAY)
    app = create_app(settings, with_pbx=False, clock=clock)
    with TestClient(app) as c:
        c.portal.call(_seed, app.state.services, clock)
        yield c
    if drop is not None:
        drop()


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _same(json_rows: list[dict[str, Any]], csv_rows: list[dict[str, str]]) -> None:
    assert len(json_rows) == len(csv_rows)
    for mine, theirs in zip(json_rows, csv_rows, strict=True):
        assert list(mine) == list(theirs)
        for name, value in mine.items():
            assert ("" if value is None else str(value)) == theirs[name], name


@pytest.mark.parametrize("group", ["queue", "agent", "team", "channel", "none"])
def test_csv_says_exactly_what_json_says(client, group):
    headers = bearer(client, "sup")
    url = f"{SERVICE}&by=hour&group={group}"
    body = client.get(url, headers=headers).json()
    assert body["timezone"] == "Asia/Shanghai" and body["rows"]
    by_format = client.get(url + "&format=csv", headers=headers)
    assert by_format.headers["content-type"].startswith("text/csv")
    assert "attachment" in by_format.headers["content-disposition"]
    _same(body["rows"], _csv(by_format.text))
    by_accept = client.get(url, headers={**headers, "Accept": "text/csv"})
    assert by_accept.text == by_format.text


def test_a_day_by_queue(client):
    rows = client.get(f"{SERVICE}&by=day&group=queue", headers=bearer(client, "sup")).json()
    support = {row["group"]: row for row in rows["rows"]}["support"]
    assert support["period"] == "2026-03-02"
    assert (support["offered"], support["answered"], support["abandoned"]) == (3, 1, 1)
    assert support["service_level"] == 0.3333 and support["aht"] == 150.0
    assert support["abandon_30_60"] == 1


def test_customers_report_and_its_csv(client):
    headers = bearer(client, "sup")
    url = "/api/reports/customers?from=2026-03-02&to=2026-03-02&by=week"
    body = client.get(url, headers=headers).json()
    counts = {(r["dimension"], r["value"]): r["calls"] for r in body["rows"]}
    assert counts[("region", "US")] == 2 and counts[("source", "200")] == 2
    _same(body["rows"], _csv(client.get(url + "&format=csv", headers=headers).text))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-05&to=2026-03-01", "to"),
        ("from=2026-01-01&to=2026-03-01&by=hour", "to"),
        ("from=2025-01-01&to=2026-03-01&by=day", "to"),
        ("from=yesterday&to=2026-03-01", "from"),
        ("to=2026-03-01", "from"),
        ("from=2026-03-01&to=2026-03-01&by=month", "by"),
        ("from=2026-03-01&to=2026-03-01&group=skill", "group"),
        ("from=2026-03-01&to=2026-03-01&format=xml", "format"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, query, field):
    answer = client.get(f"/api/reports/service?{query}", headers=bearer(client, "sup"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", field]


def test_reports_need_reports_read(client):
    assert client.get(SERVICE).status_code == 401
    agent = client.get(SERVICE, headers=bearer(client, "ann"))
    assert agent.status_code == 403 and "reports.read" in agent.json()["detail"]
    customers = "/api/reports/customers?from=2026-03-02&to=2026-03-02"
    assert client.get(customers, headers=bearer(client, "bob")).status_code == 403
    assert client.get(SERVICE, headers=bearer(client, "boss")).status_code == 200
