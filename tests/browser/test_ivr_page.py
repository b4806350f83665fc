"""The IVR admin page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import httpx

from tests.browser.conftest import PASSWORD


def _login(page, site: str, username: str) -> None:
    page.goto(f"{site}/ivr.html")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")


def test_admin_sees_flows_and_draws_one(site, browser):
    page = browser.new_page()
    _login(page, site, "boss")
    page.wait_for_selector("tr.flow[data-flow=main]")
    assert page.locator("tr.flow[data-flow=main] td").nth(1).inner_text() == "100"
    page.click("tr.flow[data-flow=main]")
    page.wait_for_selector("#graph svg")
    assert "order_number" in page.locator("#graph svg").text_content()
    page.click("button[data-lang=zh]")
    assert page.locator("th[data-i18n=numbers]").inner_text() == "号码"
    page.click("button[data-lang=en]")
    assert page.locator("th[data-i18n=numbers]").inner_text() == "Numbers"
    page.close()


def test_non_admin_is_told_and_sees_no_flows(site, browser):
    page = browser.new_page()
    _login(page, site, "sup")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert page.locator("#message").inner_text() == "Admins only"
    assert page.locator("#flows").is_hidden()
    assert httpx.get(f"{site}/api/ivr/flows").status_code == 401
    page.close()
