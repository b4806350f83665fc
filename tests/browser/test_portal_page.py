"""The customer portal in a real browser: the requester opens the signed link an agent
handed out, sees the status and the agent's public reply (never the internal note),
replies, and the agent reads the reply through the API. No agent login on the page."""

from __future__ import annotations

import httpx

from tests.browser.conftest import Site, token


def _seed(site: str) -> tuple[int, dict[str, str]]:
    sup, amy = token(site, "sup"), token(site, "amy")
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy).json()["user_id"]
    group = httpx.post(f"{site}/api/ticket-groups", json={"name": "support"}, headers=sup).json()
    httpx.put(f"{site}/api/ticket-groups/{group['id']}/members", json={"user_ids": [amy_id]},
              headers=sup)  # fmt: skip
    li = httpx.post(f"{site}/api/customers", json={"name": "Li Lei", "emails": ["li@c.test"]},
                    headers=sup).json()  # fmt: skip
    other = httpx.post(f"{site}/api/customers", json={"name": "Wang", "emails": ["w@c.test"]},
                       headers=sup).json()  # fmt: skip
    body = {"subject": "Router keeps rebooting", "requester_id": li["id"], "group_id": group["id"],
            "description": "Every hour."}  # fmt: skip
    ticket = httpx.post(f"{site}/api/tickets", json=body, headers=sup).json()
    httpx.post(f"{site}/api/tickets", headers=sup, json={**body, "subject": "Wang's secret",
                                                          "requester_id": other["id"]})  # fmt: skip
    for text, public in (("NOTE: refund if it fails again", False), ("Please try a reset.", True)):
        r = httpx.post(f"{site}/api/tickets/{ticket['id']}/comments",
                       json={"body": text, "public": public}, headers=amy)  # fmt: skip
        assert r.status_code == 201, r.text
    return int(ticket["id"]), amy


def test_the_requester_reads_and_replies_through_the_signed_link(running_site: Site, browser):
    site = running_site.url
    ticket_id, amy = _seed(site)
    link = httpx.get(f"{site}/api/tickets/{ticket_id}/portal-link", headers=amy).json()
    assert link["url"].startswith(f"{site}/portal.html#token=")

    page = browser.new_page()
    page.goto(link["url"])
    page.click("button[data-lang=en]")
    page.wait_for_selector("#ticket:not([hidden])")
    assert page.evaluate("location.hash") == ""  # the token left the address bar
    assert page.locator("#subject").inner_text() == "Router keeps rebooting"
    assert page.locator("#status").inner_text() == "In progress"  # the reply opened it
    comments = page.locator("#comments").inner_text()
    assert "Please try a reset." in comments and "Every hour." in comments
    assert "NOTE" not in comments and "refund" not in comments
    assert "Wang" not in page.content()
    page.click("button[data-lang=zh]")
    assert page.locator("#status").inner_text() == "处理中"
    page.click("button[data-lang=en]")

    page.fill("#reply textarea", "A reset did not help.")
    page.click("#reply button")
    page.wait_for_selector("#comments li[data-by=customer]:has-text('A reset did not help.')")

    history = httpx.get(f"{site}/api/tickets/{ticket_id}/history", headers=amy).json()["items"]
    last = [item for item in history if item["kind"] == "comment"][-1]
    assert (last["by"], last["body"], last["author"]["name"]) == (
        "customer", "A reset did not help.", "Li Lei")  # fmt: skip

    # A tampered link shows nothing and offers the sign-in by email instead.
    bad = browser.new_page()
    bad.goto(link["url"][:-3] + "xyz")
    bad.click("button[data-lang=en]")
    bad.wait_for_selector("#signin:not([hidden])")
    assert "not valid" in bad.locator("#message").inner_text()
    assert bad.locator("#ticket").is_hidden()
    page.close()
    bad.close()
