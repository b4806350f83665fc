"""The customer portal in a real browser: the requester opens the signed link an agent
handed out, sees the status and the agent's public reply (never the internal note),
replies, and the agent reads the reply through the API; or signs in with a code mailed
through a real SMTP smarthost and sees their tickets and no one else's. No agent login.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import Site, token
from tests.support.smtp import Smarthost, smarthost


@pytest.fixture(scope="module", autouse=True)
def relay() -> Iterator[Smarthost]:
    """The site's smarthost, set as an administrator would: through the environment
    (autouse, so it is in place before the module's site starts)."""
    with smarthost() as host, pytest.MonkeyPatch.context() as env:
        env.setenv("CALLCENTER_SMTP_HOST", "127.0.0.1")
        env.setenv("CALLCENTER_SMTP_PORT", str(host.port))
        env.setenv("CALLCENTER_SMTP_STARTTLS", "false")
        env.setenv("CALLCENTER_SMTP_FROM", "Support <support@example.com>")
        yield host


@pytest.fixture(scope="module")
def seeded(running_site: Site, relay: Smarthost) -> tuple[int, dict[str, str]]:
    """Li's ticket with a note and a public reply by amy, Wang's ticket; amy's headers."""
    site = running_site.url
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
    (reply,) = relay.wait(1, within=10)  # the public reply, mailed to Li; the note not
    assert "Please try a reset." in reply.get_content() and "NOTE" not in reply.get_content()
    return int(ticket["id"]), amy


def test_the_requester_reads_and_replies_through_the_signed_link(
    running_site: Site, browser, seeded
):
    site = running_site.url
    ticket_id, amy = seeded
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


def test_the_customer_signs_in_with_a_mailed_code_and_sees_only_theirs(
    running_site: Site, browser, relay: Smarthost, seeded
):
    site = running_site.url
    page = browser.new_page()
    page.goto(f"{site}/portal.html")
    page.click("button[data-lang=zh]")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.locator("#ask button").inner_text() == "发送验证码"
    page.click("button[data-lang=en]")
    page.fill("#ask input[name=email]", "LI@c.test")
    page.click("#ask button")
    page.wait_for_selector("#enter:not([hidden])")
    mail = relay.wait(2, within=10)[1]  # after the reply to Li mailed at seeding
    assert mail["To"] == "li@c.test" and "sign-in code" in mail["Subject"]
    code = re.findall(r"\b\d{6}\b", mail.get_content())[0]
    page.fill("#enter input[name=code]", "000000" if code != "000000" else "111111")
    page.click("#enter button")
    page.wait_for_function("document.getElementById('message').textContent.includes('Wrong')")
    page.fill("#enter input[name=code]", code)
    page.click("#enter button")
    page.wait_for_selector("#list:not([hidden]) #tickets tr")
    rows = page.locator("#tickets tr")
    assert rows.count() == 1  # Li's one ticket; Wang's is not listed
    assert "Router keeps rebooting" in rows.first.inner_text()
    assert "Wang" not in page.content()
    page.click("#tickets a")
    page.wait_for_selector("#ticket:not([hidden])")
    assert "Please try a reset." in page.locator("#comments").inner_text()
    page.click("#back")
    page.wait_for_selector("#list:not([hidden])")
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    page.close()
