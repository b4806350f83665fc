"""The wallboard in a real browser: tiles follow the floor live, in both languages.

No telephony runs here: the test routes a real task through the server's own routing
service (what the IVR's queue node does), and agents change state over the API; the
page must follow each within a second.
"""

from __future__ import annotations

import httpx

from callcenter.routing.model import Task
from tests.browser.conftest import Site, open_as, token


def _cell(page, table: str, row: str, key: str) -> str:
    return page.locator(f"#{table} tr[{row}] td[data-k={key}]").inner_text()


def test_the_wallboard_follows_the_floor_live(running_site: Site, browser):
    site = running_site.url
    boss, amy = token(site, "boss"), token(site, "amy")
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy).json()["user_id"]
    profile = {"skills": {"support": 2}, "teams": ["day"]}
    assert httpx.put(f"{site}/api/agents/{amy_id}/profile", json=profile,
                     headers=boss).status_code == 200  # fmt: skip

    page = open_as(browser, site, "wallboard.html", "sup")
    page.wait_for_selector("#board:not([hidden])")
    page.wait_for_function("document.getElementById('live').textContent === 'live'")
    amy_row = f"data-agent='{amy_id}'"
    page.wait_for_selector(f"#agents tr[{amy_row}]")
    assert _cell(page, "agents", amy_row, "state") == "Offline"

    # amy logs in elsewhere: her row and the floor's tile follow within the second.
    httpx.put(f"{site}/api/agents/me/state", json={"state": "available"}, headers=amy)
    page.wait_for_function(
        f"document.querySelector(\"#agents tr[{amy_row}] td[data-k=state]\")"
        ".textContent === 'Available'", timeout=1000)  # fmt: skip
    assert page.locator("#totals [data-k=agents] .v").inner_text() == "1"

    # A caller queues for support (no agent free: amy goes on a break first).
    httpx.put(f"{site}/api/agents/me/state", json={"state": "break", "reason": "lunch"},
              headers=amy)  # fmt: skip
    services = running_site.app.state.services
    task = Task("call-900", "support", data={"call_id": 900})
    running_site.run(services.routing.submit(task, {}))
    support = "data-queue='support'"
    page.wait_for_function(
        f"document.querySelector(\"#queues tr[{support}] td[data-k=waiting]\")"
        ".textContent === '1'", timeout=1000)  # fmt: skip
    assert page.locator("#totals [data-k=waiting] .v").inner_text() == "1"
    assert "warn" in page.locator("#totals [data-k=waiting]").get_attribute("class")
    page.wait_for_function(  # the longest wait ticks on by itself
        "document.querySelector('#totals [data-k=longest] .v').textContent !== '0:00'"
    )

    # amy is back: the call rings her and she answers; the queue shows it answered.
    httpx.put(f"{site}/api/agents/me/state", json={"state": "available"}, headers=amy)
    page.wait_for_function(
        f"document.querySelector(\"#agents tr[{amy_row}] td[data-k=state]\")"
        ".textContent === 'Ringing'", timeout=1000)  # fmt: skip
    assert running_site.run(services.routing.answered("call-900")) == amy_id
    page.wait_for_function(
        f"document.querySelector(\"#queues tr[{support}] td[data-k=answered]\")"
        ".textContent === '1'", timeout=1000)  # fmt: skip
    assert _cell(page, "queues", support, "waiting") == "0"
    assert _cell(page, "agents", amy_row, "state") == "On a call"
    # Answered within support's 20 s: a service level of 100 %, in green.
    service_level = page.locator(f"#queues tr[{support}] td[data-k=service_level]")
    assert service_level.inner_text() == "100%"
    assert "good" in service_level.get_attribute("class")
    # The supervisor's buttons for a call in progress are there.
    actions = page.locator(f"#agents tr[{amy_row}] button").all_inner_texts()
    assert {"Listen", "Whisper", "Barge in", "Take over", "Hang up"} <= set(actions)

    page.click("button[data-lang=zh]")
    assert _cell(page, "agents", amy_row, "state") == "通话中"
    assert page.locator("#queues th").nth(1).inner_text() == "排队"
    page.click("#big")
    assert "big" in page.locator("body").get_attribute("class")
    assert page.locator(f"#agents tr[{amy_row}] .acts").is_hidden()
    page.click("button[data-lang=en]")
    running_site.run(services.routing.finished("call-900", 30.0))
    page.close()


def test_an_agent_cannot_open_the_wallboard(site, browser):
    page = open_as(browser, site, "wallboard.html", "amy")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert "supervisors" in page.locator("#message").inner_text()
    assert page.locator("#board").is_hidden()
    page.close()


def test_an_announcement_posted_on_the_wallboard_shows_on_the_desktop(site, browser):
    desk = open_as(browser, site, "agent.html", "amy")
    desk.wait_for_selector("#desk:not([hidden])")
    assert desk.locator("#notices").is_hidden()
    board = open_as(browser, site, "wallboard.html", "sup")
    board.wait_for_selector("#board:not([hidden])")
    board.fill("#announce-text", "Network maintenance at 18:00 / 18:00 网络维护")
    board.click("#announce button")
    board.wait_for_selector("#announcements li")
    # The desktop shows it at once, without a reload.
    desk.wait_for_selector("#notices:not([hidden]) #announcements li", timeout=2000)
    assert "Network maintenance" in desk.locator("#announcements li").inner_text()
    board.click("#announcements li button")
    desk.wait_for_selector("#notices[hidden]", state="attached", timeout=2000)
    desk.close()
    board.close()
