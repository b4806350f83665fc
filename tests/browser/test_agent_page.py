"""The agent desktop in a real browser: log in, go available, take a break, live updates."""

from __future__ import annotations

import httpx

from tests.browser.conftest import PASSWORD


def _state(page) -> str:
    return page.locator("#state").inner_text()


def test_agent_logs_in_changes_state_and_sees_changes_made_elsewhere(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/agent.html")
    page.click("button[data-lang=en]")
    page.fill("input[name=username]", "amy")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#desk:not([hidden])")
    assert _state(page) == "Offline"

    page.click("#available")
    page.wait_for_selector("#state[data-state=available]")
    page.select_option("#reason", "lunch")
    page.click("#break")
    page.wait_for_selector("#state[data-state=break]")
    assert _state(page) == "Break: Lunch"
    page.click("button[data-lang=zh]")
    assert _state(page) == "小休：午餐"
    assert page.locator("#available").inner_text() == "示闲"

    # The same agent, from another device: the open page follows within the second.
    login = {"username": "amy", "password": PASSWORD}
    token = httpx.post(f"{site}/api/auth/login", json=login).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.put(f"{site}/api/agents/me/state", json={"state": "available"}, headers=headers)
    assert r.status_code == 200
    page.wait_for_selector("#state[data-state=available]", timeout=2000)
    assert _state(page) == "空闲"
    page.click("#offline")
    page.wait_for_selector("#state[data-state=offline]")
    page.click("button[data-lang=en]")
    page.close()


def test_a_wrong_password_is_told_in_the_chosen_language(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/agent.html")
    page.click("button[data-lang=zh]")
    page.fill("input[name=username]", "amy")
    page.fill("input[name=password]", "wrong")
    page.click("#login button")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert page.locator("#message").inner_text() == "登录失败"
    assert page.locator("#desk").is_hidden()
    page.click("button[data-lang=en]")
    page.close()
