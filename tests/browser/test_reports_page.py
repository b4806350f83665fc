"""The reports page in a real browser: charts and the table from the reports API, the
CSV download with the same numbers, the customer side and the staffing forecast."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import httpx

from callcenter.routing.model import Task
from tests.browser.conftest import Site, open_as, token


def test_reports_draw_the_api_numbers_and_download_them(running_site: Site, browser):
    site, services = running_site.url, running_site.app.state.services
    boss, amy = token(site, "boss"), token(site, "amy")
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy).json()["user_id"]
    httpx.put(f"{site}/api/agents/{amy_id}/profile", json={"skills": {"support": 1}},
              headers=boss).raise_for_status()  # fmt: skip
    # Two visits to support through the server's routing: one given up, one answered.
    running_site.run(services.routing.submit(Task("t1", "support"), {}))
    running_site.run(services.routing.cancel("t1"))
    httpx.put(f"{site}/api/agents/me/state", json={"state": "available"}, headers=amy)
    running_site.run(services.routing.submit(Task("t2", "support"), {}))
    assert running_site.run(services.routing.answered("t2")) == amy_id
    running_site.run(services.routing.finished("t2", 30.0))

    page = open_as(browser, site, "reports.html", "sup", accept_downloads=True)
    page.wait_for_selector("#service-table tbody tr")
    row = page.locator("#service-table tbody tr", has_text="support")
    cells = row.locator("td").all_inner_texts()
    # period, group, offered, answered, abandoned, overflowed, service level, …
    assert cells[1:6] == ["support", "1", "1", "0", "0"], cells
    assert cells[6] == "100%"
    assert page.locator("#chart-volume svg rect[data-series=Answered]").count() == 1
    assert page.locator("#chart-sl svg path[data-series='Service level']").count() == 1

    with page.expect_download() as download:
        page.click("#csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    (support,) = [r for r in csv.DictReader(io.StringIO(text)) if r["group"] == "support"]
    assert (support["offered"], support["answered"], support["short_abandoned"]) == ("1", "1", "1")

    page.click("button[data-tab=customers]")
    page.wait_for_selector("#chart-customers svg")
    page.click("button[data-tab=forecast]")
    page.select_option("#forecast-queue", "support")
    page.click("#forecast-form button")
    page.wait_for_function("document.querySelectorAll('#forecast-table tbody tr').length >= 46")
    assert page.locator("#chart-forecast svg path[data-series='Agents needed']").count() == 1

    page.click("button[data-lang=zh]")
    assert page.locator("button[data-tab=forecast]").inner_text() == "话务预测与排班"
    assert page.locator("#forecast-table th").first.inner_text() == "开始"
    page.click("button[data-lang=en]")
    page.close()


def test_an_agent_is_told_reports_are_not_for_them(site, browser):
    page = open_as(browser, site, "reports.html", "amy")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert "reports.read" in page.locator("#message").inner_text()
    page.close()


def test_the_sla_tab_shows_percent_met_by_priority(running_site: Site, browser):
    """Two tickets under a 24x7 policy, one answered within its first-response target
    and one past it (urgent ones have 1.2 seconds): 100% and 0% met."""
    site = running_site.url
    boss = token(site, "boss")

    def put(path: str, body: dict) -> None:
        httpx.put(f"{site}{path}", json=body, headers=boss).raise_for_status()

    put("/api/sla/calendars/always", {"timezone": "Asia/Shanghai", "hours": "24x7"})
    put("/api/sla/policies/fast", {"position": 1, "calendar": "always",
        "default": {"first_response": 60},
        "targets": [{"priority": "urgent", "first_response": 0.02}]})  # fmt: skip
    group = httpx.post(f"{site}/api/ticket-groups", json={"name": "sla-desk"}, headers=boss)
    customer = httpx.post(f"{site}/api/customers", json={"phones": ["+8613700137000"]},
                          headers=boss)  # fmt: skip
    for priority in ("normal", "urgent"):
        ticket = httpx.post(f"{site}/api/tickets", headers=boss, json={
            "subject": f"{priority} one", "priority": priority, "group_id": group.json()["id"],
            "requester_id": customer.json()["id"]}).json()  # fmt: skip
        if priority == "urgent":
            time.sleep(2)  # past its target
        httpx.post(f"{site}/api/tickets/{ticket['id']}/comments", headers=boss,
                   json={"body": "On it", "public": True}).raise_for_status()  # fmt: skip

    page = open_as(browser, site, "reports.html", "sup", accept_downloads=True)
    page.click("button[data-tab=sla]")
    assert page.locator("select[name=by]").is_hidden()  # a grouping, not a time step
    page.wait_for_function(
        "document.querySelectorAll('#sla-table tbody tr').length === 2"
        " && document.querySelector('#sla-table tbody').innerText.includes('0%')"
    )
    rows = {r.locator("td").first.inner_text(): r.locator("td").all_inner_texts()
            for r in page.locator("#sla-table tbody tr").all()}  # fmt: skip
    assert rows["Normal"][1:5] == ["1", "1", "0", "100%"], rows
    assert rows["Urgent"][1:5] == ["1", "0", "1", "0%"], rows
    # One bar per priority with something counted (a 0% bar has no height to draw).
    assert page.locator("#chart-sla svg rect[data-series='First response']").count() >= 1

    with page.expect_download() as download:
        page.click("#csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    by_priority = {r["priority"]: r for r in csv.DictReader(io.StringIO(text))}
    assert by_priority["urgent"]["first_response_breached"] == "1"
    page.click("button[data-lang=zh]")
    assert page.locator("#sla-table tbody td").first.inner_text() in ("普通", "紧急")
    page.click("button[data-lang=en]")
    page.close()
