"""Customers' API on the real app (no telephony): profiles, identities, merge, timeline,
CSV, and who may see and change which customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.calls.models import Disposition
from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


async def _call(services: Any, channel: str, number: str, agent: int | None = None) -> int:
    """A finished inbound call from `number`, answered by `agent` if given."""
    call = await services.calls.start(NewCall(channel, number, "", "4008001000"))
    if agent is not None:
        await services.calls.answered(call.id)
        await services.calls.connected(call.id, agent, ring_seconds=1.0)
    services.clock.advance(timedelta(minutes=1))
    await services.calls.end(
        call.id,
        cause=16,
        cause_text="Normal",
        ended_by="caller",
        disposition=None if agent else Disposition.ABANDONED,
    )
    services.clock.advance(timedelta(minutes=1))
    return int(call.id)


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        yield c


def _customer_of(client: TestClient, number: str) -> dict[str, Any]:
    found = client.get("/api/customers", params={"q": number}, headers=bearer(client, "sup"))
    (item,) = found.json()["items"]
    return item


def test_a_caller_gets_a_profile_with_source_and_region(client):
    client.portal.call(_call, client.app.state.services, "c-1", "+86 138 0013 8000")
    customer = _customer_of(client, "13800138000")
    assert customer["class"] == "new" and customer["region"] == "CN"
    assert customer["source"] == "phone:4008001000"
    assert customer["identities"] == [
        {"id": customer["identities"][0]["id"], "kind": "phone", "value": "+8613800138000"}
    ]


def test_a_manager_creates_and_edits_a_profile_with_normalized_values(client):
    sup = bearer(client, "sup")
    body = {
        "name": "王小明",
        "class": "member",
        "tags": ["VIP ", "vip", "Beijing"],
        "custom_fields": {"plan": "gold", "seats": 12, "trial": False},
        "phones": ["0086 139-0000-0001"],
        "emails": ["Wang@Example.COM"],
        "chats": ["wx:wang"],
    }
    r = client.post("/api/customers", json=body, headers=sup)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["tags"] == ["beijing", "vip"] and made["region"] == "CN"
    values = {(i["kind"], i["value"]) for i in made["identities"]}
    assert values == {
        ("phone", "+8613900000001"),
        ("email", "wang@example.com"),
        ("chat", "wx:wang"),
    }
    r = client.patch(
        f"/api/customers/{made['id']}", json={"class": "vip", "notes": "prefers 中文"}, headers=sup
    )
    assert r.json()["class"] == "vip" and r.json()["notes"] == "prefers 中文"
    assert r.json()["custom_fields"] == {"plan": "gold", "seats": 12, "trial": False}
    listed = client.get("/api/customers", params={"tag": "VIP", "class": "vip"}, headers=sup)
    assert [c["id"] for c in listed.json()["items"]] == [made["id"]]
    assert client.get("/api/customers", params={"q": "wang@"}, headers=sup).json()["total"] == 1
    assert client.get("/api/customers", params={"q": "小明"}, headers=sup).json()["total"] == 1
    assert client.get("/api/customers", params={"tag": "vi"}, headers=sup).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"class": "gold"}, "class"),
        ({"tags": ["ok", "no;semicolons"]}, "tags"),
        ({"tags": ["x" * 41]}, "tags"),
        ({"custom_fields": {"1bad": "x"}}, "custom_fields"),
        ({"custom_fields": {"nested": {"a": 1}}}, "custom_fields"),
        ({"custom_fields": {"big": "x" * 1001}}, "custom_fields"),
        ({"region": "China"}, "region"),
        ({"name": "x" * 201}, "name"),
        ({"emails": ["not-an-email"]}, "emails"),
        ({"phones": ["call me"]}, "phones"),
        ({"chats": ["has space"]}, "chats"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_get_a_field_level_422_and_nothing_is_stored(client, body, field):
    sup = bearer(client, "sup")
    r = client.post("/api/customers", json={"phones": ["+8613700000000"], **body}, headers=sup)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field or r.json()["detail"][0]["loc"][1] == field
    assert client.get("/api/customers", headers=sup).json()["total"] == 0


def test_an_identity_belongs_to_one_customer(client):
    sup = bearer(client, "sup")
    first = client.post("/api/customers", json={"emails": ["a@b.cn"]}, headers=sup).json()
    second = client.post("/api/customers", json={"phones": ["+14155550100"]}, headers=sup).json()
    r = client.post(
        f"/api/customers/{second['id']}/identities",
        json={"kind": "email", "value": " A@B.CN "},
        headers=sup,
    )
    assert r.status_code == 409
    assert r.json()["detail"][0]["customer_id"] == first["id"]
    assert str(first["id"]) in r.json()["detail"][0]["msg"]
    r = client.post("/api/customers", json={"emails": ["a@b.cn"]}, headers=sup)
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "emails"]
    r = client.post(
        f"/api/customers/{second['id']}/identities",
        json={"kind": "email", "value": "x@y.cn"},
        headers=sup,
    )
    assert r.status_code == 201
    added = next(i for i in r.json()["identities"] if i["kind"] == "email")
    r = client.delete(f"/api/customers/{second['id']}/identities/{added['id']}", headers=sup)
    assert [i["kind"] for i in r.json()["identities"]] == ["phone"]
    r = client.delete(f"/api/customers/{second['id']}/identities/{added['id']}", headers=sup)
    assert r.status_code == 404 and "identity" in r.json()["detail"]
    assert (
        client.post(
            f"/api/customers/{second['id']}/identities",
            json={"kind": "fax", "value": "1"},
            headers=sup,
        ).status_code
        == 422
    )


def test_merge_moves_identities_calls_and_fields_and_the_old_id_redirects(client):
    services, sup = client.app.state.services, bearer(client, "sup")
    amy = client.ids["amy"]
    client.portal.call(_call, services, "c-1", "+8613800000001", amy)
    client.portal.call(_call, services, "c-2", "+8613800000002", amy)
    client.portal.call(_call, services, "c-3", "+8613800000002")
    kept, other = _customer_of(client, "8613800000001"), _customer_of(client, "8613800000002")
    client.patch(
        f"/api/customers/{kept['id']}",
        json={"tags": ["a"], "custom_fields": {"plan": "gold"}, "notes": "kept"},
        headers=sup,
    ).raise_for_status()
    client.patch(
        f"/api/customers/{other['id']}",
        json={
            "tags": ["b"],
            "class": "vip",
            "custom_fields": {"plan": "free", "seats": 3},
            "notes": "other",
        },
        headers=sup,
    ).raise_for_status()
    r = client.post(f"/api/customers/{kept['id']}/merge", json={"from": other["id"]}, headers=sup)
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["tags"] == ["a", "b"] and merged["class"] == "vip"
    assert merged["custom_fields"] == {"plan": "gold", "seats": 3}  # the kept profile wins
    assert merged["notes"] == "kept\n\nother"
    assert {i["value"] for i in merged["identities"]} == {"+8613800000001", "+8613800000002"}
    timeline = client.get(f"/api/customers/{kept['id']}/timeline", headers=sup).json()["items"]
    assert len(timeline) == 3 and {item["kind"] for item in timeline} == {"call"}
    calls = client.get("/api/calls", headers=sup).json()["items"]
    assert {c["customer_id"] for c in calls} == {kept["id"]}
    # The merged id still answers, pointing at the profile it went into.
    r = client.get(f"/api/customers/{other['id']}", headers=sup, follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/api/customers/{kept['id']}"
    assert r.json()["detail"]["merged_into"] == kept["id"]
    assert client.get(f"/api/customers/{other['id']}", headers=sup).json()["id"] == kept["id"]
    assert client.get("/api/customers", headers=sup).json()["total"] == 1
    # The next call from the merged number lands on the kept profile.
    client.portal.call(_call, services, "c-4", "+8613800000002")
    assert (
        len(client.get(f"/api/customers/{kept['id']}/timeline", headers=sup).json()["items"]) == 4
    )
    r = client.post(f"/api/customers/{kept['id']}/merge", json={"from": kept["id"]}, headers=sup)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "from"]
    r = client.post(f"/api/customers/{kept['id']}/merge", json={"from": other["id"]}, headers=sup)
    assert r.status_code == 422


def test_the_timeline_is_newest_first_with_what_an_agent_needs(client):
    services, sup = client.app.state.services, bearer(client, "sup")
    first = client.portal.call(_call, services, "c-1", "+8613800000001")
    second = client.portal.call(_call, services, "c-2", "+8613800000001", client.ids["amy"])
    customer = _customer_of(client, "8613800000001")
    items = client.get(f"/api/customers/{customer['id']}/timeline", headers=sup).json()["items"]
    assert [i["id"] for i in items] == [second, first]
    assert items[0]["agent"] == {"id": client.ids["amy"], "name": "amy"}
    assert items[0]["disposition"] == "completed" and items[1]["disposition"] == "abandoned"
    assert items[0]["direction"] == "inbound" and items[0]["has_recording"] is False
    assert items[0]["duration_seconds"] == 60.0 and items[1]["agent"] is None
    assert customer["class"] == "returning"


def test_agents_see_and_tag_only_customers_they_served(client):
    services = client.app.state.services
    client.portal.call(_call, services, "c-1", "+8613800000001", client.ids["amy"])
    client.portal.call(_call, services, "c-2", "+8613800000002", client.ids["bob"])
    theirs, other = _customer_of(client, "8613800000001"), _customer_of(client, "8613800000002")
    amy = bearer(client, "amy")
    listed = client.get("/api/customers", headers=amy).json()
    assert [c["id"] for c in listed["items"]] == [theirs["id"]] and listed["total"] == 1
    assert client.get(f"/api/customers/{theirs['id']}", headers=amy).status_code == 200
    for path in ("", "/timeline"):
        assert client.get(f"/api/customers/{other['id']}{path}", headers=amy).status_code == 404
    r = client.patch(
        f"/api/customers/{theirs['id']}",
        json={"tags": ["Angry"], "notes": "call back"},
        headers=amy,
    )
    assert r.status_code == 200 and r.json()["tags"] == ["angry"]
    assert (
        client.patch(f"/api/customers/{other['id']}", json={"notes": "x"}, headers=amy).status_code
        == 404
    )
    r = client.patch(f"/api/customers/{theirs['id']}", json={"class": "vip"}, headers=amy)
    assert r.status_code == 403 and "customers.manage" in r.json()["detail"]
    assert client.post("/api/customers", json={"phones": ["+861"]}, headers=amy).status_code == 403
    r = client.post(f"/api/customers/{theirs['id']}/merge", json={"from": other["id"]}, headers=amy)
    assert r.status_code == 403
    assert client.get("/api/customers/export.csv", headers=amy).status_code == 403
    assert (
        client.post("/api/customers/import", content=b"phones\n+861\n", headers=amy).status_code
        == 403
    )
    assert client.get("/api/customers").status_code == 401


CSV_OK = (
    "name,class,tags,phones,emails,custom_fields\n"
    '张伟,vip,gold;Beijing,+86 138 1111 2222,zhang@example.cn,"{""plan"": ""金卡""}"\n'
    "Li Na,,,,li@example.cn;na@example.cn,\n"
)


def test_import_creates_then_updates_by_identity(client):
    sup = bearer(client, "sup")
    files = {"file": ("customers.csv", CSV_OK.encode(), "text/csv")}
    r = client.post("/api/customers/import", files=files, headers=sup)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0}
    zhang = _customer_of(client, "zhang@")
    assert zhang["name"] == "张伟" and zhang["tags"] == ["beijing", "gold"]
    assert zhang["custom_fields"] == {"plan": "金卡"} and zhang["source"] == "import"
    again = "name,emails\n张伟 (updated),ZHANG@example.cn\n".encode()
    r = client.post(
        "/api/customers/import", content=again, headers={**sup, "Content-Type": "text/csv"}
    )
    assert r.json() == {"created": 0, "updated": 1}
    assert _customer_of(client, "zhang@")["name"] == "张伟 (updated)"
    assert _customer_of(client, "zhang@")["class"] == "vip"  # an empty or absent cell keeps it


def test_a_bad_import_stores_nothing_and_lists_every_bad_row(client):
    sup = bearer(client, "sup")
    bad = CSV_OK + (
        "Bad class,gold,,+8613911112222,,\n"
        "No identity,new,,,,\n"
        "Bad json,new,,+8613911113333,,{nope\n"
        "Twice,new,,+86 138 1111 2222,,\n"
    )
    r = client.post(
        "/api/customers/import", files={"file": ("c.csv", bad.encode(), "text/csv")}, headers=sup
    )
    assert r.status_code == 422, r.text
    errors = {(e["row"], e["field"]) for e in r.json()["detail"]}
    assert errors == {(4, "class"), (5, "phones"), (6, "custom_fields"), (7, "phones")}
    assert client.get("/api/customers", headers=sup).json()["total"] == 0
    r = client.post(
        "/api/customers/import",
        content="名字,phones\n".encode(),
        headers={**sup, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "header"
    r = client.post(
        "/api/customers/import",
        content=b"phones\n\xff\xfe\n",
        headers={**sup, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "file"
    too_big = b"phones\n" + b"+8613900000000\n" * 400_000
    r = client.post(
        "/api/customers/import", content=too_big, headers={**sup, "Content-Type": "text/csv"}
    )
    assert r.status_code == 413


def test_csv_round_trip_into_a_fresh_database(client, tmp_path):
    services, sup = client.app.state.services, bearer(client, "sup")
    client.portal.call(_call, services, "c-1", "+8613800000001")
    client.post(
        "/api/customers/import", files={"file": ("c.csv", CSV_OK.encode(), "text/csv")}, headers=sup
    ).raise_for_status()
    caller = _customer_of(client, "8613800000001")
    client.patch(
        f"/api/customers/{caller['id']}",
        json={"notes": 'line one\nline two, "quoted"', "custom_fields": {"n": 1.5, "ok": True}},
        headers=sup,
    ).raise_for_status()
    r = client.get("/api/customers/export.csv", headers=sup)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeffid,name,class,tags,phones,emails".encode())
    before = client.get("/api/customers", headers=sup).json()["items"]
    with app_client(tmp_path / "fresh", [("sup", "supervisor")], FixedClock(START)) as fresh:
        r = fresh.post(
            "/api/customers/import",
            files={"file": ("x.csv", r.content, "text/csv")},
            headers=bearer(fresh, "sup"),
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"created": 3, "updated": 0}
        after = fresh.get("/api/customers", headers=bearer(fresh, "sup")).json()["items"]
    assert sorted(map(_comparable, after), key=repr) == sorted(map(_comparable, before), key=repr)


def _comparable(profile: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """What an export carries: everything but the id and the last contact time."""
    fields = {k: v for k, v in profile.items() if k not in ("id", "identities", "last_contact_at")}
    return fields, sorted((i["kind"], i["value"]) for i in profile["identities"])
