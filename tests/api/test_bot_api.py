"""The bot on the real app with the labelled KB imported: an admin's trial of turns,
self-learning (unanswered questions clustered, a suggestion accepted becomes an entry
the bot answers with at once), and an entry from an agent's reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.bot.bot import BotContext, BotReply
from tests.support.app import app_client, bearer
from tests.support.kb import ENTRIES_FILE

USERS = [("adm", "admin"), ("sup", "supervisor"), ("amy", "agent")]
STORES = ["你们有线下实体店吗", "附近有你们的实体门店吗", "线下实体店在哪里"]
JOBS = ["are you hiring right now", "do you have any job openings",
        "are you hiring? i want to apply for a job"]  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with app_client(tmp_path_factory.mktemp("bot"), USERS) as c:
        r = c.post("/api/kb/import", files={"file": ("kb.md", ENTRIES_FILE.read_bytes())},
                   headers=bearer(c, "adm"))  # fmt: skip
        assert r.status_code == 200, r.text
        yield c


def _try(client: TestClient, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/bot/try", json={"text": text, **extra}, headers=bearer(client, "adm"))
    assert r.status_code == 200, r.text
    return r.json()


def _entry_id(client: TestClient, question: str) -> int:
    r = client.get("/api/kb/entries", params={"q": question}, headers=bearer(client, "adm"))
    return next(e["id"] for e in r.json() if e["question"] == question)


def _turn(client: TestClient, text: str, conversation: str) -> BotReply:
    services = client.app.state.services  # type: ignore[attr-defined]
    context = BotContext(conversation_id=conversation)
    reply: BotReply = client.portal.call(services.bot.bot.turn, context, text)  # type: ignore[union-attr]
    return reply


@pytest.mark.parametrize(
    ("question", "expected"),
    [("退的款几天能到银行卡", "退款多久到账？"),
     ("forgot my pasword cant log in", "How do I reset my password?")],
)  # fmt: skip
def test_a_rephrased_question_is_answered_with_its_entry(client, question, expected):
    reply = _try(client, question)
    assert reply["kind"] == "answer"
    assert reply["entry_id"] == _entry_id(client, expected)
    assert reply["confidence"] >= 0.6
    assert reply["failed_turns"] == 0
    entry = client.get(f"/api/kb/entries/{reply['entry_id']}", headers=bearer(client, "adm"))
    assert reply["text"] == entry.json()["answer"]  # the entry's Markdown as it is
    assert reply["language"] == ("zh" if expected.endswith("？") else "en")


@pytest.mark.parametrize(
    ("text", "language"), [("转人工", "zh"), ("I want to talk to a human", "en")]
)
def test_asking_for_a_person_hands_over(client, text, language):
    reply = _try(client, text, failed_turns=1)
    assert (reply["kind"], reply["handoff_reason"], reply["language"]) == (
        "handoff", "asked_for_human", language)  # fmt: skip
    assert reply["failed_turns"] == 1


def test_the_hotline_question_is_answered_not_handed_over(client):
    reply = _try(client, "客服热线是多少")
    assert reply["kind"] == "answer"
    assert reply["entry_id"] == _entry_id(client, "人工客服怎么联系？服务时间是？")


def test_a_greeting_is_greeted(client):
    reply = _try(client, "你好")
    assert (reply["kind"], reply["language"]) == ("greeting", "zh")
    assert "人工" in reply["text"]


def test_off_topic_questions_fail_then_hand_over(client):
    first = _try(client, "明天北京限行尾号是多少")
    assert (first["kind"], first["failed_turns"], first["suggestions"]) == ("clarify", 1, [])
    assert "抱歉" in first["text"]
    second = _try(client, "明天北京限行尾号是多少", failed_turns=first["failed_turns"])
    assert (second["kind"], second["handoff_reason"], second["failed_turns"]) == (
        "handoff", "failed_turns", 2)  # fmt: skip


def test_a_middling_question_offers_did_you_mean(client):
    reply = _try(client, "你们几点下班")
    assert reply["kind"] == "clarify", reply
    assert reply["text"].startswith("您是不是想问")
    assert reply["suggestions"] and reply["failed_turns"] == 0
    offered = [s["question"] for s in reply["suggestions"]]
    assert "人工客服怎么联系？服务时间是？" in offered
    assert all(f"- {q}" in reply["text"] for q in offered)
    # Clicked: answered with that entry, though its text reads as a request for a person.
    chosen = reply["suggestions"][offered.index("人工客服怎么联系？服务时间是？")]
    picked = _try(client, chosen["question"], entry_id=chosen["entry_id"])
    assert (picked["kind"], picked["entry_id"]) == ("answer", chosen["entry_id"])
    gone = _try(client, "x", entry_id=99999, failed_turns=0)
    assert (gone["kind"], gone["failed_turns"]) == ("clarify", 1)


def test_trying_needs_kb_manage_and_stores_nothing(client):
    r = client.post("/api/bot/try", json={"text": "x"}, headers=bearer(client, "amy"))
    assert r.status_code == 403
    r = client.post("/api/bot/try", json={"text": ""}, headers=bearer(client, "adm"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    _try(client, "你们有线下实体店吗")
    services = client.app.state.services  # type: ignore[attr-defined]
    stored = client.portal.call(services.bot.learning.unanswered)
    assert [q for q in stored if q["conversation_id"] is None] == []


def test_unanswered_questions_become_suggestions_and_an_accepted_one_answers(client):
    adm = bearer(client, "adm")
    for i, text in enumerate(STORES + JOBS):
        reply = _turn(client, text, f"conv-{i}")
        assert reply.kind in ("clarify", "handoff"), (text, reply)
    assert client.get("/api/bot/suggestions", headers=bearer(client, "amy")).status_code == 403
    r = client.get("/api/bot/suggestions", headers=adm)
    assert r.status_code == 200, r.text
    found = {s["language"]: s for s in r.json()}
    assert len(r.json()) == 2, r.json()
    stores, jobs_en = found["zh"], found["en"]
    assert stores["count"] == 3 and set(stores["examples"]) == set(STORES)
    assert stores["representative"] in STORES and stores["status"] == "open"
    assert jobs_en["count"] == 3 and set(jobs_en["examples"]) == set(JOBS)
    # One more like the stores joins that suggestion, its id unchanged.
    assert _turn(client, "你们有没有实体店", "conv-9").kind != "answer"
    again = {s["id"]: s for s in client.get("/api/bot/suggestions", headers=adm).json()}
    assert again[stores["id"]]["count"] == 4
    stores = again[stores["id"]]  # its representative may have changed

    answer = "我们暂时**没有线下实体店**，所有业务都可在 App 或官网办理。"
    r = client.post(f"/api/bot/suggestions/{stores['id']}/accept",
                    json={"answer": answer}, headers=adm)  # fmt: skip
    assert r.status_code == 201, r.text
    entry = r.json()["entry"]
    assert entry["question"] == stores["representative"] and entry["active"]
    assert entry["language"] == "zh" and entry["answer"] == answer
    assert sorted([entry["question"], *entry["similar_questions"]]) == sorted(
        [*STORES, "你们有没有实体店"]
    )
    assert r.json()["suggestion"]["status"] == "accepted"
    assert r.json()["suggestion"]["entry_id"] == entry["id"]
    reply = _try(client, "实体店在哪")
    assert (reply["kind"], reply["entry_id"]) == ("answer", entry["id"])

    again = client.post(f"/api/bot/suggestions/{stores['id']}/accept",
                        json={"answer": answer}, headers=adm)  # fmt: skip
    assert again.status_code == 409
    r = client.post(f"/api/bot/suggestions/{jobs_en['id']}/dismiss", headers=adm)
    assert (r.status_code, r.json()["status"]) == (200, "dismissed")
    assert client.get("/api/bot/suggestions", headers=adm).json() == []
    dismissed = client.get("/api/bot/suggestions", params={"status": "dismissed"}, headers=adm)
    assert [s["id"] for s in dismissed.json()] == [jobs_en["id"]]
    assert client.post("/api/bot/suggestions/999/dismiss", headers=adm).status_code == 404


def test_a_refused_entry_leaves_the_suggestion_open(client):
    adm = bearer(client, "adm")
    assert _turn(client, "你们招聘吗我想投简历", "conv-jobs").kind != "answer"
    open_ = client.get("/api/bot/suggestions", headers=adm).json()
    jobs = next(s for s in open_ if "简历" in s["representative"])
    r = client.post(f"/api/bot/suggestions/{jobs['id']}/accept",
                    json={"answer": "x", "category_id": 999}, headers=adm)  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category_id"]
    r = client.post(f"/api/bot/suggestions/{jobs['id']}/accept", json={"answer": ""}, headers=adm)
    assert r.status_code == 422
    assert any(s["id"] == jobs["id"] for s in client.get("/api/bot/suggestions",
                                                         headers=adm).json())  # fmt: skip


def test_an_agents_reply_becomes_a_draft_and_an_admins_an_entry(client):
    body = {"question": "能寄到香港吗", "answer": "可以，**顺丰**寄送，3–5 天。"}
    r = client.post("/api/kb/from-reply", json=body, headers=bearer(client, "amy"))
    assert r.status_code == 201, r.text
    draft = r.json()
    assert (draft["active"], draft["tags"], draft["language"]) == (False, ["from-reply"], "zh")
    assert _try(client, "能寄到香港吗").get("entry_id") != draft["id"]
    r = client.post("/api/kb/from-reply", json={**body, "question": "Do you ship to Hong Kong?",
                    "answer": "Yes, in 3-5 days."}, headers=bearer(client, "adm"))  # fmt: skip
    assert r.status_code == 201 and r.json()["active"] and r.json()["language"] == "en"
    reply = _try(client, "Do you ship to Hong Kong?")
    assert (reply["kind"], reply["entry_id"]) == ("answer", r.json()["id"])
    assert client.post("/api/kb/from-reply", json=body).status_code == 401
    r = client.post(
        "/api/kb/from-reply", json={**body, "answer": ""}, headers=bearer(client, "amy")
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "answer"]


def test_a_critical_sensitive_phrase_hands_over_a_warning_does_not(client):
    adm = bearer(client, "adm")
    for phrase, severity in (("律师函", "critical"), ("退款", "warn")):
        word = {"phrase": phrase, "language": "zh", "severity": severity}
        r = client.post("/api/sensitive-words", json=word, headers=adm)
        assert r.status_code == 201, r.text
    reply = _try(client, "再不退钱我就发律师函")
    assert (reply["kind"], reply["handoff_reason"]) == ("handoff", "sensitive")
    assert _try(client, "退的款几天能到银行卡")["kind"] == "answer"


def test_without_the_model_questions_are_grouped_by_their_words(tmp_path):
    with app_client(tmp_path, USERS, kb_semantic=False) as c:
        adm = bearer(c, "adm")
        r = c.post("/api/kb/import", files={"file": ("kb.md", ENTRIES_FILE.read_bytes())},
                   headers=adm)  # fmt: skip
        assert r.status_code == 200, r.text
        asked = ["你们有线下实体店吗", "线下实体店在哪里", "are you hiring right now",
                 "are you hiring now?"]  # fmt: skip
        for i, text in enumerate(asked):
            assert _turn(c, text, f"c{i}").kind != "answer", text
        r = c.get("/api/bot/suggestions", headers=adm)
        assert sorted((s["language"], s["count"]) for s in r.json()) == [("en", 2), ("zh", 2)]
