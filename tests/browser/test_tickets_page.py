"""The agent's ticket page in a real browser: only their groups' tickets, one ticket's
detail, an internal note and a public reply told apart, status moves limited to the
allowed ones, another user's change arriving live; and the desktop's "Create ticket"
making a ticket from a finished call and opening it.

No telephony runs: the call is seeded through the server's own CallService.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callcenter.auth.permissions import Principal
from tests.browser.conftest import PASSWORD, Site, open_as, token
from tests.support.quality import finished_call


def _post(site: str, path: str, body: dict[str, Any], who: str) -> dict[str, Any]:
    r = httpx.post(f"{site}{path}", json=body, headers=token(site, who))
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def world(running_site: Site) -> dict[str, Any]:
    """Bob joins amy as an agent; groups support (amy) and billing (bob); tickets in both."""
    site, services = running_site.url, running_site.app.state.services
    system = Principal.operator("test", kind="system")
    running_site.run(services.auth.create_user("bob", PASSWORD, "agent", actor=system,
                                               check_password=False))  # fmt: skip
    amy = httpx.get(f"{site}/api/agents/me", headers=token(site, "amy")).json()["user_id"]
    bob = httpx.get(f"{site}/api/agents/me", headers=token(site, "bob")).json()["user_id"]
    groups = {}
    for name, member in (("support", amy), ("billing", bob)):
        group = _post(site, "/api/ticket-groups", {"name": name}, "sup")
        r = httpx.put(f"{site}/api/ticket-groups/{group['id']}/members",
                      json={"user_ids": [member]}, headers=token(site, "sup"))  # fmt: skip
        assert r.status_code == 200
        groups[name] = group["id"]
    li = _post(site, "/api/customers", {"name": "Li Lei", "phones": ["+8613900139000"]}, "sup")

    def ticket(subject: str, group: str) -> int:
        body = {"subject": subject, "requester_id": li["id"], "group_id": groups[group],
                "description": "Since Monday, every hour."}  # fmt: skip
        return int(_post(site, "/api/tickets", body, "sup")["id"])

    return {"amy": amy, "groups": groups, "customer": li["id"], "ticket": ticket,
            "router": ticket("Router keeps rebooting", "support"),
            "refund": ticket("Refund for March", "billing"),
            "slow": ticket("Slow line in the evening", "support")}  # fmt: skip


def _open(browser: Any, site: str, user: str = "amy", fragment: str = "") -> Any:
    page = open_as(browser, site, f"tickets.html{fragment}", user)
    page.wait_for_selector("#tickets:not([hidden])")
    return page


def _rows(page: Any) -> list[str]:
    return page.locator("#list tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")


def _statuses(page: Any) -> list[str]:
    return page.locator("#status-change option").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)"
    )


def test_an_agent_works_a_ticket_of_their_group_and_sees_changes_live(running_site, browser, world):
    site = running_site.url
    page = _open(browser, site)
    page.wait_for_selector(f"#list tr[data-id='{world['router']}']")
    # Their group's tickets, newest first; billing's is not there.
    assert _rows(page) == [str(world["slow"]), str(world["router"])]
    page.fill("#search", "router")
    page.click("#filters button")
    page.wait_for_function("document.querySelectorAll('#list tbody tr').length === 1")
    assert _rows(page) == [str(world["router"])]

    page.click(f"#list tr[data-id='{world['router']}']")
    page.wait_for_selector("#detail:not([hidden])")
    assert page.locator("#d-subject").inner_text() == "Router keeps rebooting"
    assert page.locator("#d-status").inner_text() == "New"
    assert _statuses(page) == ["open", "pending", "on_hold", "solved", "closed"]
    assert page.locator("#group option:checked").inner_text() == "support"
    assert page.locator("#assignee option:checked").inner_text() == "Unassigned"
    assert "Since Monday" in page.locator("#description").inner_text()
    page.click("#requester")
    page.wait_for_selector("#customer:not([hidden])")
    assert page.locator("#c-name").inner_text() == "Li Lei"
    assert "+8613900139000" in page.locator("#c-contacts").inner_text()

    # An internal note stays new; a public reply opens the ticket. They look different.
    page.fill("#comment-body", "Line checked: no fault at the exchange")
    page.click("#note")
    page.wait_for_selector("#history li.comment.internal")
    assert page.locator("#d-status").inner_text() == "New"
    page.fill("#comment-body", "We are sending a new router")
    page.click("#reply")
    page.wait_for_selector("#history li.comment.public")
    page.wait_for_function("document.getElementById('d-status').textContent === 'Open'")
    note = page.locator("#history li.comment.internal")
    reply = page.locator("#history li.comment.public")
    assert "internal note" in note.inner_text().lower() and "no fault" in note.inner_text()
    assert "public reply" in reply.inner_text().lower() and "new router" in reply.inner_text()
    colors = page.evaluate("""() => ['internal', 'public'].map(k => getComputedStyle(
        document.querySelector('#history li.comment.' + k)).backgroundColor)""")
    assert colors[0] != colors[1]
    assert _statuses(page) == ["pending", "on_hold", "solved", "closed"]

    page.select_option("#assignee", str(world["amy"]))
    page.wait_for_function("document.querySelector('#history').textContent.includes('assignee')")
    page.select_option("#status-change", "solved")
    page.wait_for_function("document.getElementById('d-status').textContent === 'Solved'")
    assert _statuses(page) == ["open", "closed"]

    # The supervisor, elsewhere: the change and the comment arrive without a reload.
    sup = token(site, "sup")
    url = f"{site}/api/tickets/{world['router']}"
    assert httpx.patch(url, json={"priority": "urgent"}, headers=sup).status_code == 200
    page.wait_for_function("document.getElementById('priority').value === 'urgent'", timeout=3000)
    r = httpx.post(f"{url}/comments", json={"body": "Customer called again", "public": False},
                   headers=sup)  # fmt: skip
    assert r.status_code == 201
    page.wait_for_function(
        "document.getElementById('history').textContent.includes('Customer called again')",
        timeout=3000,
    )
    # A new ticket of her group shows in the list; one of billing does not.
    page.fill("#search", "")
    page.click("#filters button")
    world["ticket"]("Billing question", "billing")
    fresh = world["ticket"]("No dial tone", "support")
    page.wait_for_selector(f"#list tr[data-id='{fresh}']", timeout=3000)
    assert str(world["refund"]) not in _rows(page)

    page.click("button[data-lang=zh]")
    assert page.locator("#d-status").inner_text() == "已解决"
    assert page.locator("#count").inner_text().startswith("共 ")
    assert "内部备注" in page.locator("#history li.comment.internal").first.inner_text()
    page.click("button[data-lang=en]")
    page.close()


def test_a_ticket_not_theirs_is_not_opened(running_site, browser, world):
    page = _open(browser, running_site.url, fragment=f"#ticket={world['refund']}")
    page.wait_for_selector(f"#list tr[data-id='{world['router']}']")
    assert page.locator("#detail").is_hidden()
    page.close()


def test_the_desktop_makes_a_ticket_from_a_finished_call_and_opens_it(running_site, browser, world):
    site, services = running_site.url, running_site.app.state.services
    call_id = running_site.run(
        finished_call(services, "tickets-1", agent=world["amy"], talk=95, recording=True)
    )
    page = open_as(browser, site, "agent.html", "amy")
    page.wait_for_selector("#desk:not([hidden])")
    row = f"#history tr[data-call='{call_id}']"
    page.wait_for_selector(row)
    with page.expect_popup() as opened:
        page.click(f"{row} button.make-ticket")
    ticket_page = opened.value
    ticket_page.wait_for_selector("#detail:not([hidden])")
    assert ticket_page.locator("#d-subject").inner_text() == "Call from +8613800138000"
    assert ticket_page.locator("#d-source").inner_text() == f"Call #{call_id}"
    description = ticket_page.locator("#description").inner_text()
    assert "Agent: amy" in description and "Talk time: 95 s" in description
    assert f"/api/calls/{call_id}/recording" in description
    ticket_page.click("#play")
    ticket_page.wait_for_function("document.getElementById('player').src.startsWith('blob:')")
    ticket_id = int(ticket_page.url.rsplit("=", 1)[1])
    ticket = httpx.get(f"{site}/api/tickets/{ticket_id}", headers=token(site, "amy")).json()
    assert (ticket["call_id"], ticket["source"], ticket["group_id"]) == (
        call_id, "call", world["groups"]["support"],
    )  # fmt: skip
    ticket_page.close()
    page.close()
