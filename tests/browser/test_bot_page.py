"""The bot page in a real browser: an admin chats with the bot over the imported KB
(answer, did-you-mean button, hand-off on 转人工), turns a cluster of unanswered
questions into an entry the bot then answers with, dismisses another, and keeps a team
canned response; an agent sees only canned responses, keeps a personal one and cannot
edit the team's. Checks read back through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callcenter.bot.bot import BotContext
from tests.browser.conftest import Site, open_as, token
from tests.support.kb import ENTRIES_FILE

STORES = ["你们有线下实体店吗", "附近有你们的实体门店吗", "线下实体店在哪里"]
JOBS = ["are you hiring right now", "do you have any job openings"]


@pytest.fixture(scope="module", autouse=True)
def seeded(running_site: Site) -> None:
    site = running_site.url
    r = httpx.post(f"{site}/api/kb/import", files={"file": ("kb.md", ENTRIES_FILE.read_bytes())},
                   headers=token(site, "boss"), timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    bot = running_site.app.state.services.bot
    for i, text in enumerate(STORES + JOBS):
        reply = running_site.run(bot.bot.turn(BotContext(conversation_id=f"c{i}"), text))
        assert reply.kind != "answer", (text, reply)


def _open(browser: Any, site: str, user: str) -> Any:
    page = open_as(browser, site, "bot.html", user)
    page.wait_for_selector("#bot:not([hidden])")
    return page


def _say(page: Any, text: str, replies: int) -> Any:
    page.fill("#chat-text", text)
    page.click("#chat-form button.primary")
    page.wait_for_selector(f"#chat-log .msg.bot >> nth={replies - 1}")
    return page.locator("#chat-log .msg.bot").nth(replies - 1)


def test_an_admin_chats_reviews_suggestions_and_keeps_team_responses(site, browser):
    page = _open(browser, site, "boss")
    answer = _say(page, "退的款几天能到银行卡", 1)
    assert answer.get_attribute("data-kind") == "answer"
    assert "answer · entry #" in answer.inner_text()
    middling = _say(page, "你们几点下班", 2)
    assert middling.get_attribute("data-kind") == "clarify"
    middling.locator("button.pick", has_text="人工客服怎么联系？服务时间是？").click()
    page.wait_for_selector("#chat-log .msg.bot >> nth=2")
    assert page.locator("#chat-log .msg.bot").nth(2).get_attribute("data-kind") == "answer"
    handoff = _say(page, "转人工", 4)
    assert handoff.get_attribute("data-kind") == "handoff"
    assert "the visitor asked for a person" in handoff.inner_text()

    stores = page.locator(".suggestion", has=page.locator(".count", has_text="3 times")).filter(
        has_text=STORES[0]
    )
    stores.locator("textarea[name=answer]").fill("我们暂时**没有线下实体店**，业务请在 App 办理。")
    stores.locator("button.accept").click()
    page.wait_for_selector("#suggestion-result.ok")
    entry_id = int(page.inner_text("#suggestion-result").split("#")[1].split()[0])
    r = httpx.post(f"{site}/api/bot/try", json={"text": "实体店在哪"}, headers=token(site, "boss"))
    assert (r.json()["kind"], r.json()["entry_id"]) == ("answer", entry_id)
    page.locator(".suggestion", has_text=JOBS[0]).locator("button.dismiss").click()
    page.wait_for_selector("#suggestion-list p.muted")
    assert page.inner_text("#suggestion-list") == "Nothing to review"

    page.click("#canned-new")
    page.fill("#canned-form [name=shortcut]", "/hello")
    page.fill("#canned-form [name=title]", "Greeting")
    page.fill("#canned-form [name=body]", "Hello, how can I help?")
    page.select_option("#canned-form [name=scope]", "team")
    page.click("#canned-save")
    page.wait_for_selector("#canned-saved:has-text('Saved')")
    page.fill("#canned-form [name=shortcut]", "/bad shortcut")
    page.click("#canned-save")
    page.wait_for_selector("#canned-error:has-text('shortcut')")
    page.click("button[data-lang=zh]")
    assert page.inner_text("h1") == "智能机器人"


def test_an_agent_keeps_personal_responses_and_only_reads_the_teams(site, browser):
    headers = token(site, "boss")
    if not any(c["shortcut"] == "/hello" for c in httpx.get(f"{site}/api/canned-responses",
                                                            headers=headers).json()):  # fmt: skip
        httpx.post(f"{site}/api/canned-responses", headers=headers, json={
            "shortcut": "/hello", "title": "Greeting", "body": "Hi", "scope": "team"})  # fmt: skip
    page = _open(browser, site, "amy")
    assert page.locator("#try").is_hidden() and page.locator("#suggestions").is_hidden()
    page.wait_for_selector("#canned-table tbody tr")
    page.click("#canned-new")
    assert page.locator("#canned-form [name=scope] option[value=team]").is_disabled()
    page.fill("#canned-form [name=shortcut]", "/refund")
    page.fill("#canned-form [name=title]", "退款时效")
    page.fill("#canned-form [name=body]", "退款 1–3 个工作日到账。")
    page.click("#canned-save")
    page.wait_for_selector("#canned-saved:has-text('Saved')")
    page.fill("#canned-q", "/re")
    page.wait_for_function("document.querySelectorAll('#canned-table tbody tr').length === 1")
    assert page.inner_text("#canned-table tbody tr td") == "/refund"
    page.fill("#canned-q", "")
    page.locator("#canned-table tbody tr", has_text="/hello").click()
    assert page.locator("#canned-save").is_hidden()
    page.fill("#propose-form [name=question]", "能寄到香港吗")
    page.fill("#propose-form [name=answer]", "可以，**顺丰**寄送，3–5 天。")
    page.click("#propose-form button")
    page.wait_for_selector("#propose-result.ok")
    assert "draft" in page.inner_text("#propose-result")
    drafts = httpx.get(f"{site}/api/kb/entries", params={"q": "香港"}, headers=headers).json()
    assert [(d["active"], d["tags"]) for d in drafts] == [(False, ["from-reply"])]
    mine = httpx.get(f"{site}/api/canned-responses", params={"scope": "personal"},
                     headers=token(site, "amy")).json()  # fmt: skip
    assert [c["shortcut"] for c in mine] == ["/refund"]
