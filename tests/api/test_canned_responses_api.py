"""Canned responses on the real app: personal ones private to their owner (404 to
others), team ones everyone's and changed only with canned_responses.manage, prefix
search for the composer, 422s naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import app_client, bearer

USERS = [("adm", "admin"), ("amy", "agent"), ("bob", "agent")]
URL = "/api/canned-responses"


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS) as c:
        yield c


def _new(client: TestClient, who: str, **body: Any) -> Any:
    return client.post(URL, json=body, headers=bearer(client, who))


def _field(r: Any) -> str:
    assert r.status_code == 422, r.text
    return r.json()["detail"][0]["loc"][1]


def test_personal_responses_are_their_owners_alone(client):
    amy, bob = bearer(client, "amy"), bearer(client, "bob")
    r = _new(client, "amy", shortcut="Refund", title="退款时效", body="退款 **1–3 个工作日**到账。",
             language="zh")  # fmt: skip
    assert r.status_code == 201, r.text
    mine = r.json()
    assert (mine["shortcut"], mine["scope"], mine["owner_id"]) == (
        "/refund", "personal", client.ids["amy"])  # type: ignore[attr-defined]  # fmt: skip
    assert client.get(f"{URL}/{mine['id']}", headers=bob).status_code == 404
    assert client.patch(f"{URL}/{mine['id']}", json={"title": "x"}, headers=bob).status_code == 404
    assert client.delete(f"{URL}/{mine['id']}", headers=bob).status_code == 404
    assert client.get(URL, headers=bob).json() == []
    # Bob may use the same shortcut for his own.
    assert _new(client, "bob", shortcut="/refund", title="t", body="b").status_code == 201
    r = client.patch(f"{URL}/{mine['id']}", json={"body": "改了"}, headers=amy)
    assert (r.status_code, r.json()["body"]) == (200, "改了")
    assert client.delete(f"{URL}/{mine['id']}", headers=amy).status_code == 204
    assert client.get(f"{URL}/{mine['id']}", headers=amy).status_code == 404
    assert client.get(URL).status_code == 401


def test_team_responses_need_the_permission_to_change(client):
    adm, amy = bearer(client, "adm"), bearer(client, "amy")
    r = _new(client, "amy", shortcut="/hello", title="Hello", body="Hi!", scope="team")
    assert r.status_code == 403
    r = _new(client, "adm", shortcut="/hello", title="Hello", body="Hi, how can I help?",
             scope="team", language="en")  # fmt: skip
    assert r.status_code == 201, r.text
    team = r.json()
    assert (team["scope"], team["owner_id"]) == ("team", None)
    assert client.get(f"{URL}/{team['id']}", headers=amy).status_code == 200
    assert client.patch(f"{URL}/{team['id']}", json={"title": "x"}, headers=amy).status_code == 403
    assert client.delete(f"{URL}/{team['id']}", headers=amy).status_code == 403
    r = client.patch(f"{URL}/{team['id']}", json={"title": "Greeting"}, headers=adm)
    assert (r.status_code, r.json()["title"]) == (200, "Greeting")
    # A personal response may shadow a team shortcut; a second team one may not.
    assert _new(client, "amy", shortcut="/hello", title="Mine", body="Yo").status_code == 201
    dup = _new(client, "adm", shortcut="/HELLO", title="x", body="y", scope="team")
    assert _field(dup) == "shortcut" and "/hello" in dup.json()["detail"][0]["msg"]


def test_the_composer_searches_by_shortcut_or_title_prefix(client):
    adm, amy = bearer(client, "adm"), bearer(client, "amy")
    _new(client, "adm", shortcut="/refund-time", title="Refund timing", body="3 days",
         scope="team", language="en")  # fmt: skip
    _new(client, "amy", shortcut="/退款", title="退款时效", body="1–3 个工作日", language="zh")
    _new(client, "amy", shortcut="/thanks", title="Closing", body="Thanks!")

    def shortcuts(**params: Any) -> list[str]:
        r = client.get(URL, params=params, headers=amy)
        assert r.status_code == 200, r.text
        return [c["shortcut"] for c in r.json()]

    assert shortcuts() == ["/thanks", "/退款", "/refund-time"]  # personal first
    assert shortcuts(q="/re") == ["/refund-time"]
    assert shortcuts(q="RE") == ["/refund-time"]
    assert shortcuts(q="refund t") == ["/refund-time"]  # the title's prefix
    assert shortcuts(q="退") == ["/退款"]
    assert shortcuts(q="clos") == ["/thanks"]
    assert shortcuts(q="_") == []  # a LIKE wildcard is a plain character
    assert shortcuts(language="en") == ["/thanks", "/refund-time"]  # any-language ones too
    assert shortcuts(scope="team") == ["/refund-time"]
    assert [c["shortcut"] for c in client.get(URL, headers=adm).json()] == ["/refund-time"]


def test_refusals_name_the_field_and_store_nothing(client):
    amy = bearer(client, "amy")
    assert _new(client, "amy", shortcut="/ok", title="T", body="B").status_code == 201
    assert _field(_new(client, "amy", shortcut="/ok", title="T2", body="B2")) == "shortcut"
    assert _field(_new(client, "amy", shortcut="has space", title="T", body="B")) == "shortcut"
    assert _field(_new(client, "amy", shortcut="/x", title="   ", body="B")) == "title"
    assert _field(_new(client, "amy", shortcut="/x", title="T", body="")) == "body"
    assert _field(_new(client, "amy", shortcut="/x", title="T", body="B", language="fr")) == (
        "language")  # fmt: skip
    assert _field(_new(client, "amy", shortcut="/x", title="T", body="B", scope="all")) == "scope"
    assert [c["shortcut"] for c in client.get(URL, headers=amy).json()] == ["/ok"]
    first = client.get(URL, headers=amy).json()[0]
    _new(client, "amy", shortcut="/two", title="T", body="B")
    r = client.patch(f"{URL}/{first['id']}", json={"shortcut": "/two"}, headers=amy)
    assert _field(r) == "shortcut"
    assert _field(client.patch(f"{URL}/{first['id']}", json={"title": None}, headers=amy)) == (
        "title")  # fmt: skip
    assert client.get(f"{URL}/{first['id']}", headers=amy).json()["shortcut"] == "/ok"
