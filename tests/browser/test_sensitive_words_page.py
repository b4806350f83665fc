"""Sensitive words in a real browser: an admin keeps the lists (a duplicate refused at
its field, a list imported, a text tried), a supervisor's wallboard shows an alert raised
through the real service live, with the phrase marked, and acknowledges it; an agent is
refused. What the page shows is read back through the API."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.browser.conftest import Site, open_as, token


def _words(site: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{site}/api/sensitive-words", headers=token(site, "boss"))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_an_admin_keeps_the_lists(site, browser):
    page = open_as(browser, site, "sensitive-words.html", "boss")
    page.wait_for_selector("#page:not([hidden])")
    page.fill("#add [name=phrase]", "退 款")
    page.click("#add button")
    page.wait_for_selector("#words tr td.phrase:text-is('退款')")

    page.fill("#add [name=phrase]", "退款")  # already listed: refused at the phrase
    page.click("#add button")
    page.wait_for_selector("#add [name=phrase].invalid")
    assert "already" in page.locator("#add .error").inner_text()
    assert [w["phrase"] for w in _words(site)] == ["退款"]

    page.fill("#import [name=text]", "# from the old system\nRefund\nlawsuit\n\nrefund\n")
    page.select_option("#import [name=language]", "en")
    page.select_option("#import [name=severity]", "critical")
    page.click("#import button")
    page.wait_for_selector("#import-result:has-text('2 added')")
    stored = {w["phrase"]: w for w in _words(site)}
    assert set(stored) == {"退款", "refund", "lawsuit"}
    assert stored["lawsuit"]["severity"] == "critical" and stored["lawsuit"]["language"] == "en"

    page.fill("#try [name=text]", "i will file a Lawsuit for my refunds")
    page.select_option("#try [name=language]", "en")
    page.click("#try button")
    page.wait_for_selector("#try-result mark")
    assert page.locator("#try-result mark").all_inner_texts() == ["Lawsuit", "refunds"]

    row = page.locator(f"#words tr[data-id='{stored['lawsuit']['id']}']")
    row.locator("[name=active]").uncheck()
    deadline = time.monotonic() + 3
    while {w["phrase"]: w for w in _words(site)}["lawsuit"]["active"]:
        assert time.monotonic() < deadline, "the change never reached the server"
        time.sleep(0.05)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#words tr[data-id='{stored['refund']['id']}'] button.delete").click()
    page.wait_for_selector(f"#words tr[data-id='{stored['refund']['id']}']", state="detached")
    assert {w["phrase"] for w in _words(site)} == {"退款", "lawsuit"}

    page.click("button[data-lang=zh]")
    assert page.locator("[data-tab=lists]").inner_text() == "词库"


def test_a_supervisor_sees_an_alert_live_and_acknowledges_it(running_site: Site, browser):
    site = running_site.url
    r = httpx.post(f"{site}/api/sensitive-words", json={"phrase": "骗子公司", "language": "zh",
                   "severity": "critical"}, headers=token(site, "boss"))  # fmt: skip
    assert r.status_code in (201, 422), r.text  # 422: listed by an earlier run of this module
    amy = httpx.get(f"{site}/api/agents/me", headers=token(site, "amy")).json()["user_id"]

    page = open_as(browser, site, "wallboard.html", "sup")
    page.wait_for_selector("#sensitive:not([hidden]) ul.sensitive-alerts")
    services = running_site.app.state.services
    started = time.monotonic()
    running_site.run(services.sensitive.check(
        "call", "call-77", ref="seg-1", text="你们就是一家骗子公司我要投诉", language="zh-CN",
        agent_id=amy))  # fmt: skip
    page.wait_for_selector("#sensitive li.sensitive-alert mark", timeout=2000)
    assert time.monotonic() - started < 2
    alert = page.locator("#sensitive li.sensitive-alert").first
    assert alert.locator("mark").inner_text() == "骗子公司"
    assert "critical" in (alert.get_attribute("class") or "")
    assert "amy" in alert.inner_text()
    assert alert.locator("a").get_attribute("href") == "/transcripts.html#call=call-77"

    alert.locator("button.ack").click()
    page.wait_for_selector("#sensitive li.none")
    [stored] = httpx.get(f"{site}/api/sensitive-alerts?source_id=call-77",
                         headers=token(site, "sup")).json()  # fmt: skip
    assert stored["acknowledged_by_name"] == "sup"

    # The call's alerts in full, from the link; the supervisor has no list to edit.
    call = open_as(browser, site, "sensitive-words.html#call=call-77", "sup")
    call.wait_for_selector("#alerts li.sensitive-alert")
    assert call.locator("#alerts li.sensitive-alert mark").inner_text() == "骗子公司"
    assert "acknowledged by sup" in call.locator("#alerts li.sensitive-alert").inner_text()
    assert call.locator("[data-tab=lists]").is_hidden()

    page.click("button[data-lang=zh]")
    assert page.locator("#sensitive h2").inner_text() == "敏感词告警"


def test_an_agent_is_refused(site, browser):
    page = open_as(browser, site, "sensitive-words.html", "amy")
    page.wait_for_selector("#refused:not([hidden])")
    assert page.locator("#page").is_hidden()
