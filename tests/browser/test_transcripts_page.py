"""Transcripts in a real browser: a supervisor searches what was said (Chinese and
English) and opens the call's whole transcript; an agent's desktop shows the call's
lines live as they are stored, sensitive words marked, and keeps them in wrap-up.

No telephony runs: calls are seeded through the server's CallService and segments are
stored through the same TranscriptStore.add the live pipeline calls.
"""

from __future__ import annotations

from typing import Any

import httpx

from callcenter.calls.service import NewCall
from callcenter.speech.engine import Utterance
from tests.browser.conftest import Site, open_as, token


async def _call(services: Any, channel: str, agent: int) -> int:
    call = await services.calls.start(NewCall(channel, "+8613800138000", "", "4008001000"))
    await services.calls.answered(call.id)
    await services.calls.connected(call.id, agent, ring_seconds=1.0)
    return int(call.id)


def _say(site: Site, call_id: int, speaker: str, at: float, text: str) -> None:
    """As the pipeline would: its stream began when the call was answered."""
    services = site.app.state.services
    answered = site.run(services.calls.call(call_id)).answered_at
    said = Utterance(start=at, end=at + 2.0, text=text, confidence=0.9)
    site.run(services.transcripts.add(str(call_id), speaker, None, answered, said))


def _refund(text: str, language: str) -> list[tuple[int, int]]:
    at = text.find("refund")
    return [(at, at + 6)] if at >= 0 else []


def test_a_supervisor_searches_and_opens_the_calls_transcript(running_site: Site, browser):
    site = running_site.url
    amy = httpx.get(f"{site}/api/agents/me", headers=token(site, "amy")).json()["user_id"]
    call_id = running_site.run(_call(running_site.app.state.services, "tr-1", amy))
    _say(running_site, call_id, "caller", 1.0, "我想查询一下我的账单余额")
    _say(running_site, call_id, "agent", 4.0, "Your bill balance is 30 yuan")

    page = open_as(browser, site, "transcripts.html", "sup")
    page.wait_for_selector("#page:not([hidden])")
    page.fill("#q", "账单")
    page.click("#search button")
    row = f"#results tr[data-call='{call_id}']"
    page.wait_for_selector(row)
    assert page.locator(f"{row} mark").all_inner_texts() == ["账单"]
    assert page.locator(f"{row} td").nth(2).inner_text() == "Caller"
    page.fill("#q", "BILL")
    page.click("#search button")
    page.wait_for_selector(f"{row} td:nth-child(3):text('Agent')")
    assert page.locator(f"{row} mark").all_inner_texts() == ["bill"]

    page.click(f"{row} a")
    page.wait_for_selector("#call:not([hidden]) #lines li")
    lines = page.locator("#lines li")
    assert lines.count() == 2
    assert lines.nth(0).inner_text().startswith("0:01")
    assert "我想查询一下我的账单余额" in lines.nth(0).inner_text()
    # The call goes on: a line recognised now appears without a reload, in its place.
    _say(running_site, call_id, "caller", 2.5, "thank you very much")
    page.wait_for_function("document.querySelectorAll('#lines li').length === 3")
    assert "thank you very much" in lines.nth(1).inner_text()
    page.click("button[data-lang=zh]")
    assert page.locator("h1").inner_text() == "通话转写"
    page.wait_for_function("document.querySelector('#lines li .who').textContent === '客户'")
    page.click("button[data-lang=en]")
    page.close()


def test_the_agent_desktop_shows_the_call_live_and_keeps_it_in_wrap_up(running_site, browser):
    site = running_site.url
    services = running_site.app.state.services
    services.transcripts.highlighter = _refund
    amy = httpx.get(f"{site}/api/agents/me", headers=token(site, "amy")).json()["user_id"]
    call_id = running_site.run(_call(services, "tr-2", amy))
    _say(running_site, call_id, "caller", 0.5, "Hello, I need help with an order")  # before

    page = open_as(browser, site, "agent.html", "amy")
    page.wait_for_selector("#desk:not([hidden])")
    assert page.locator("#transcript").is_hidden()
    # The softphone tells the desktop it is on this call (no telephony runs here).
    page.evaluate(f"""() => {{
        softphone.mute = () => {{}};
        onPhoneMessage({{type: "dialing", number: "+8613800138000", call_id: {call_id}}});
    }}""")
    page.wait_for_selector("#transcript:not([hidden]) #transcript-lines li")
    _say(running_site, call_id, "caller", 6.0, "I want a refund for order 1234")
    page.wait_for_selector("#transcript-lines li:nth-child(2)", timeout=2000)
    last = page.locator("#transcript-lines li").nth(1)
    assert last.locator(".who").inner_text() == "Caller"
    assert last.locator("mark.sensitive").inner_text() == "refund"
    # Another agent's call never shows here.
    sup = httpx.get(f"{site}/api/agents/me", headers=token(site, "sup")).json()["user_id"]
    other = running_site.run(_call(services, "tr-3", sup))
    _say(running_site, other, "caller", 1.0, "Not for Amy")
    _say(running_site, call_id, "agent", 9.0, "Let me check that order")
    page.wait_for_selector("#transcript-lines li:nth-child(3)")
    assert "Not for Amy" not in page.locator("#transcript-lines").inner_text()

    page.evaluate("""() => onPhoneMessage({type: "ended", by: "caller"})""")
    page.wait_for_selector("#wrapup:not([hidden])")
    assert page.locator("#transcript").is_visible()
    assert page.locator("#transcript-lines li").count() == 3
    page.click("button[data-lang=zh]")
    assert page.locator("#transcript h2").inner_text() == "实时转写"
    page.click("button[data-lang=en]")
    services.transcripts.highlighter = lambda text, language: []
    page.close()
