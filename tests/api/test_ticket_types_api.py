"""Ticket types and their forms on the real app: the admin API, and tickets' custom
fields checked against their type's form (422 naming the key, nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent")]
FAULT_FORM = [
    {"key": "model", "label_en": "Model", "label_zh": "型号", "kind": "text", "required": True},
    {"key": "units", "label_en": "Units", "label_zh": "数量", "kind": "number"},
    {"key": "onsite", "label_en": "On site", "label_zh": "上门", "kind": "boolean"},
    {"key": "line", "label_en": "Line", "label_zh": "线路", "kind": "choice",
     "choices": ["fiber", "dsl"]},
    {"key": "since", "label_en": "Since", "label_zh": "开始日期", "kind": "date"},
]  # fmt: skip


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        sup = bearer(c, "sup")
        group = c.post("/api/ticket-groups", json={"name": "support"}, headers=sup).json()
        c.put(f"/api/ticket-groups/{group['id']}/members",
              json={"user_ids": [c.ids["amy"]]}, headers=sup)  # type: ignore[attr-defined]  # fmt: skip
        c.group = group["id"]  # type: ignore[attr-defined]
        c.customer = c.post("/api/customers", json={"name": "Li"}, headers=sup).json()["id"]  # type: ignore[attr-defined]
        r = c.patch("/api/ticket-types/fault", json={"form": FAULT_FORM}, headers=sup)
        assert r.status_code == 200, r.text
        yield c


def _create(client: TestClient, **fields: Any) -> Any:
    body = {"subject": "Line down", "requester_id": client.customer, "group_id": client.group,
            **fields}  # type: ignore[attr-defined]  # fmt: skip
    return client.post("/api/tickets", json=body, headers=bearer(client, "sup"))


def _total(client: TestClient) -> int:
    return int(client.get("/api/tickets", headers=bearer(client, "sup")).json()["total"])


def test_the_seeded_types_are_listed_and_only_admins_change_them(client):
    amy, sup = bearer(client, "amy"), bearer(client, "sup")
    listed = client.get("/api/ticket-types", headers=amy).json()
    assert [(t["name"], t["label_zh"]) for t in listed] == [
        ("consultation", "咨询"), ("complaint", "投诉"), ("fault", "故障"), ("other", "其他"),
    ]  # fmt: skip
    new = {"name": "billing_query", "label_en": "Billing", "label_zh": "账单"}
    assert client.post("/api/ticket-types", json=new, headers=amy).status_code == 403
    assert client.patch("/api/ticket-types/other", json={"active": False},
                        headers=amy).status_code == 403  # fmt: skip
    created = client.post("/api/ticket-types", json=new, headers=sup)
    assert created.status_code == 201 and created.json()["form"] == []
    again = client.post("/api/ticket-types", json=new, headers=sup)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "name"]
    form = client.get("/api/ticket-types/fault/form", headers=amy).json()
    assert form["type"] == "fault" and [f["key"] for f in form["fields"]] == [
        "model", "units", "onsite", "line", "since",
    ]  # fmt: skip
    assert form["fields"][3]["choices"] == ["fiber", "dsl"] and form["fields"][0]["required"]
    assert client.get("/api/ticket-types/nope/form", headers=amy).status_code == 404
    assert client.patch("/api/ticket-types/nope", json={"active": False},
                        headers=sup).status_code == 404  # fmt: skip


@pytest.mark.parametrize(
    ("form", "loc"),
    [
        ([{"key": "x", "label_en": "X", "label_zh": "X", "kind": "choice"}], ["body", "form", 0]),
        ([{"key": "x", "label_en": "X", "label_zh": "X", "kind": "text", "choices": ["a"]}],
         ["body", "form", 0]),
        ([{"key": "x", "label_en": "X", "label_zh": "X", "kind": "colour"}],
         ["body", "form", 0, "kind"]),
        ([{"key": "1x", "label_en": "X", "label_zh": "X", "kind": "text"}],
         ["body", "form", 0, "key"]),
        ([{"key": "x", "label_en": "X", "label_zh": "X", "kind": "text"}] * 2, ["body", "form"]),
    ],
)  # fmt: skip
def test_a_bad_form_is_refused_and_the_old_one_kept(client, form, loc):
    r = client.patch("/api/ticket-types/fault", json={"form": form}, headers=bearer(client, "sup"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    kept = client.get("/api/ticket-types/fault/form", headers=bearer(client, "sup")).json()
    assert len(kept["fields"]) == len(FAULT_FORM)


@pytest.mark.parametrize(
    ("custom_fields", "key", "words"),
    [
        ({}, "model", "required"),
        ({"model": "  "}, "model", "required"),
        ({"model": "AX3000", "units": "two"}, "units", "a number"),
        ({"model": "AX3000", "units": True}, "units", "a number"),
        ({"model": "AX3000", "onsite": "yes"}, "onsite", "true or false"),
        ({"model": "AX3000", "line": "cable"}, "line", "one of fiber, dsl"),
        ({"model": "AX3000", "since": "2026-02-30"}, "since", "YYYY-MM-DD"),
        ({"model": "AX3000", "colour": "red"}, "colour", "not a field"),
    ],
)
def test_custom_fields_must_fit_the_form_or_nothing_is_stored(client, custom_fields, key, words):
    r = _create(client, type="fault", custom_fields=custom_fields)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "custom_fields", key] and words in detail["msg"]
    assert _total(client) == 0


def test_a_ticket_that_fits_its_form_is_stored_with_its_values(client):
    values = {"model": "AX3000", "units": 2, "onsite": False, "line": "fiber",
              "since": "2026-11-29"}  # fmt: skip
    r = _create(client, type="fault", custom_fields=values)
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == values and r.json()["type"] == "fault"
    # A type without fields takes none.
    r = _create(client, type="complaint", custom_fields={"model": "AX3000"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
        "body", "custom_fields", "model",
    ]  # fmt: skip


def test_unknown_and_deactivated_types_are_refused_but_old_tickets_keep_theirs(client):
    sup = bearer(client, "sup")
    r = _create(client, type="praise")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "type"]
    assert "consultation" in r.json()["detail"][0]["msg"]
    kept = _create(client, type="other").json()
    off = client.patch("/api/ticket-types/other", json={"active": False}, headers=sup)
    assert off.status_code == 200 and off.json()["active"] is False
    assert "other" not in [t["name"] for t in client.get("/api/ticket-types", headers=sup).json()]
    every = client.get("/api/ticket-types", params={"include_inactive": True}, headers=sup).json()
    assert "other" in [t["name"] for t in every]
    r = _create(client, type="other")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "type"]
    url = f"/api/tickets/{kept['id']}"
    assert client.patch(url, json={"priority": "high"}, headers=sup).status_code == 200
    moved = client.patch(url, json={"type": "complaint"}, headers=sup)
    assert moved.status_code == 200 and moved.json()["type"] == "complaint"
    back = client.patch(url, json={"type": "other"}, headers=sup)
    assert back.status_code == 422 and back.json()["detail"][0]["loc"] == ["body", "type"]


def test_changing_the_type_checks_the_fields_against_the_new_form(client):
    sup = bearer(client, "sup")
    ticket = _create(client, type="complaint").json()
    url = f"/api/tickets/{ticket['id']}"
    r = client.patch(url, json={"type": "fault", "priority": "high"}, headers=sup)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "custom_fields", "model"]
    assert client.get(url, headers=sup).json()["priority"] == "normal"  # nothing stored
    r = client.patch(url, json={"type": "fault", "custom_fields": {"model": "AX3000"}},
                     headers=sup)  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.patch(url, json={"custom_fields": {"model": "AX3000", "units": "x"}}, headers=sup)
    assert r.json()["detail"][0]["loc"] == ["body", "custom_fields", "units"]
    history = client.get(f"{url}/history", headers=sup).json()["items"]
    assert [(h["field"], h["old"], h["new"]) for h in history[1:]] == [
        ("type", "complaint", "fault"),
        ("custom_fields", {}, {"model": "AX3000"}),
    ]
