"""The knowledge base on the real app: CRUD and who may do it, import of all three
formats (all-or-nothing, 422 naming row and column), export round trips, and search
that sees every change at once."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.support.app import app_client, bearer
from tests.support.kb import ENTRIES_FILE

USERS = [("adm", "admin"), ("sup", "supervisor"), ("amy", "agent")]
COMPARED = ("kind", "language", "category", "question", "similar_questions", "answer",
            "tags", "active")  # fmt: skip


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Iterator[TestClient]:
    """One app with the demo KB imported, for the read-only tests."""
    with app_client(tmp_path_factory.mktemp("kb"), USERS) as c:
        r = _import(c, "kb.md", ENTRIES_FILE.read_bytes())
        assert r.status_code == 200, r.text
        assert r.json() == {"imported": 62, "created": 62, "updated": 0}
        yield c


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS) as c:
        yield c


def _import(client: TestClient, name: str, data: bytes, who: str = "adm") -> Any:
    return client.post("/api/kb/import", files={"file": (name, data)}, headers=bearer(client, who))


def _entries(client: TestClient) -> list[dict[str, Any]]:
    r = client.get("/api/kb/entries", headers=bearer(client, "adm"))
    assert r.status_code == 200, r.text
    return [{k: e[k] for k in COMPARED} for e in r.json()]


def test_agents_search_and_read_but_only_kb_manage_changes(imported):
    amy = bearer(imported, "amy")
    assert imported.get("/api/kb/entries", headers=amy).status_code == 200
    assert imported.get("/api/kb/categories", headers=amy).status_code == 200
    assert imported.get("/api/kb/search", params={"q": "退款"}, headers=amy).status_code == 200
    new = {"language": "en", "question": "Q?", "answer": "A."}
    for who in ("amy", "sup"):
        h = bearer(imported, who)
        assert imported.post("/api/kb/entries", json=new, headers=h).status_code == 403
        assert imported.patch("/api/kb/entries/1", json={"active": False},
                              headers=h).status_code == 403  # fmt: skip
        assert imported.delete("/api/kb/entries/1", headers=h).status_code == 403
        assert imported.post("/api/kb/categories", json={"name": "x"}, headers=h).status_code == 403
        assert imported.get("/api/kb/export", headers=h).status_code == 403
        assert _import(imported, "x.md", b"## Q\n\nA\n", who=who).status_code == 403
    assert imported.get("/api/kb/entries").status_code == 401


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("退的款几天能到银行卡", "zh", "退款多久到账？"),
        ("家里wifi突然没网了", "zh", "宽带断网了怎么办？"),
        ("forgot my pasword cant log in", "en", "How do I reset my password?"),
        ("where is my parcel right now", "en", "How do I track my order?"),
    ],
)
def test_search_finds_rephrased_questions_with_a_confidence(imported, question, language, expected):
    r = imported.get("/api/kb/search", params={"q": question, "language": language},
                     headers=bearer(imported, "amy"))  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hits"][0]["question"] == expected
    assert body["hits"][0]["language"] == language
    assert body["confident"] is True
    assert body["confidence"] == body["hits"][0]["confidence"] >= body["threshold"]
    assert body["hits"][0]["score"] > body["hits"][1]["score"]


def test_an_off_topic_question_is_not_confident_and_language_defaults_to_the_questions(imported):
    amy = bearer(imported, "amy")
    body = imported.get("/api/kb/search", params={"q": "今天天气怎么样"}, headers=amy).json()
    assert body["confident"] is False
    assert body["hits"] == [] or body["hits"][0]["language"] == "zh"
    body = imported.get("/api/kb/search", params={"q": "tell me a joke"}, headers=amy).json()
    assert body["confident"] is False
    assert all(h["language"] == "en" for h in body["hits"])


def test_entry_crud_with_categories_and_similar_questions_changes_search_at_once(client):
    adm = bearer(client, "adm")
    parent = client.post("/api/kb/categories", json={"name": "账单"}, headers=adm).json()
    child = client.post("/api/kb/categories", json={"name": "发票", "parent_id": parent["id"]},
                        headers=adm).json()  # fmt: skip
    assert child["parent_id"] == parent["id"]
    loop = client.patch(f"/api/kb/categories/{parent['id']}", json={"parent_id": child["id"]},
                        headers=adm)  # fmt: skip
    assert loop.status_code == 422
    assert loop.json()["detail"][0]["loc"] == ["body", "parent_id"]
    again = client.post("/api/kb/categories", json={"name": "账单"}, headers=adm)
    assert again.status_code == 409
    new = {"language": "zh", "question": "怎么开电子发票", "answer": "在账单页点击**申请发票**。",
           "similar_questions": ["我要开票"], "tags": ["发票"],
           "category_id": child["id"]}  # fmt: skip
    r = client.post("/api/kb/entries", json=new, headers=adm)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (entry["category"], entry["similar_questions"], entry["created_by"]) == (
        "发票", ["我要开票"], client.ids["adm"])  # type: ignore[attr-defined]  # fmt: skip
    search = {"q": "公司报销要开票", "language": "zh"}
    hits = client.get("/api/kb/search", params=search, headers=adm).json()["hits"]
    assert hits[0]["entry_id"] == entry["id"]
    assert client.delete(f"/api/kb/categories/{child['id']}", headers=adm).status_code == 409
    r = client.patch(f"/api/kb/entries/{entry['id']}", headers=adm,
                     json={"similar_questions": ["发票抬头怎么填", "报销用的票"]})  # fmt: skip
    assert r.json()["similar_questions"] == ["发票抬头怎么填", "报销用的票"]
    bad = client.post("/api/kb/entries", json={**new, "category_id": 999}, headers=adm)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "category_id"]
    assert client.patch(f"/api/kb/entries/{entry['id']}", json={"active": False},
                        headers=adm).status_code == 200  # fmt: skip
    assert client.get("/api/kb/search", params=search, headers=adm).json()["hits"] == []
    assert client.delete(f"/api/kb/entries/{entry['id']}", headers=adm).status_code == 204
    assert client.get(f"/api/kb/entries/{entry['id']}", headers=adm).status_code == 404
    assert client.delete(f"/api/kb/categories/{child['id']}", headers=adm).status_code == 204


def test_export_round_trips_in_all_three_formats(imported, tmp_path):
    adm = bearer(imported, "adm")
    original = _entries(imported)
    assert len(original) == 62
    for fmt in ("csv", "xlsx", "md"):
        r = imported.get("/api/kb/export", params={"format": fmt}, headers=adm)
        assert r.status_code == 200, r.text
        assert f"knowledge-base.{fmt}" in r.headers["content-disposition"]
        with app_client(tmp_path / fmt, USERS) as fresh:
            got = _import(fresh, f"kb.{fmt}", r.content)
            assert got.json() == {"imported": 62, "created": 62, "updated": 0}, fmt
            assert _entries(fresh) == original, fmt
    again = _import(imported, "kb.md", ENTRIES_FILE.read_bytes())
    assert again.json() == {"imported": 62, "created": 0, "updated": 62}  # no duplicates
    assert _entries(imported) == original


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "loc"),
    [
        ("bad.csv", "question,answer,language\n退款多久,三天,zh\nRefund?,Soon,fr\n".encode(),
         ["body", "file", 2, "language"]),
        ("bad.xlsx", _xlsx([["question", "answer", "kind"], ["Q1", "A1", "qa"], ["Q2", "", "qa"]]),
         ["body", "file", 2, "answer"]),
        ("bad.md", "## 好问题\n\n好答案\n\n## 坏问题\nkind: faq\n\n答案\n".encode(),
         ["body", "file", 5, "kind"]),
        ("bad.xlsx", b"not a workbook", ["body", "file", 0, "file"]),
        ("bad.txt", b"question,answer\nQ,A\n", ["body", "file"]),
    ],
)  # fmt: skip
def test_a_bad_row_is_422_naming_row_and_column_and_nothing_is_stored(client, name, data, loc):
    r = _import(client, name, data)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert _entries(client) == []
    assert client.get("/api/kb/categories", headers=bearer(client, "adm")).json() == []


def test_a_restart_takes_vectors_from_the_cache_and_changes_are_published(tmp_path):
    with app_client(tmp_path, USERS) as first:
        sub = first.app.state.services.bus.subscribe("kb.")  # type: ignore[attr-defined]
        assert _import(first, "kb.md", ENTRIES_FILE.read_bytes()).status_code == 200
        event = first.portal.call(sub.get)  # type: ignore[union-attr]
        assert event.type == "kb.changed"
        assert event.data["action"] == "imported" and len(event.data["entry_ids"]) == 62
        first.get("/api/kb/search", params={"q": "退款"}, headers=bearer(first, "amy"))
        kb = first.app.state.services.kb  # type: ignore[attr-defined]
        assert (kb.last_build.entries, kb.cache.computed) == (62, 188)
    with app_client(tmp_path, []) as again:
        hits = again.get("/api/kb/search", params={"q": "退款多久到账"},
                         headers=bearer(again, "amy")).json()["hits"]  # fmt: skip
        assert hits[0]["question"] == "退款多久到账？"
        kb = again.app.state.services.kb  # type: ignore[attr-defined]
        assert (kb.last_build.entries, kb.cache.computed) == (62, 0)
