"""What the ticket API gained, on the agent's ticket page in a real browser: a file
going up with a note and coming back down, refused uploads telling why and storing
nothing, a type's form filled in and saved, links, solving incidents and a merge, the
customer's own reply told apart, the ticket's mails with their delivery status, the
portal link, and an SLA clock breaching on screen.

The server runs on a FixedClock (so the test moves time for the SLA scheduler), with a
small attachment limit and a real SMTP smarthost (so public replies are really mailed).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from callcenter.clock import FixedClock
from tests.browser.conftest import Site, open_as, token
from tests.support.smtp import Smarthost, smarthost

LIMIT = 50_000  # bytes: an attachment larger than this is refused
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
FORM = [
    {"key": "model", "label_en": "Model", "label_zh": "型号", "kind": "text", "required": True},
    {
        "key": "line",
        "label_en": "Line",
        "label_zh": "线路",
        "kind": "choice",
        "choices": ["fiber", "dsl"],
    },
    {"key": "since", "label_en": "Since", "label_zh": "开始日期", "kind": "date"},
    {"key": "ports", "label_en": "Ports", "label_zh": "端口数", "kind": "number"},
    {"key": "outdoor", "label_en": "Outdoor", "label_zh": "室外", "kind": "boolean"},
]


@pytest.fixture(scope="module")
def site_clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture(scope="module", autouse=True)
def relay() -> Iterator[Smarthost]:
    """The smarthost and the attachment limit, set through the environment before the
    module's site starts (autouse)."""
    with smarthost() as host, pytest.MonkeyPatch.context() as env:
        env.setenv("CALLCENTER_SMTP_HOST", "127.0.0.1")
        env.setenv("CALLCENTER_SMTP_PORT", str(host.port))
        env.setenv("CALLCENTER_SMTP_STARTTLS", "false")
        env.setenv("CALLCENTER_SMTP_FROM", "Support <support@example.com>")
        env.setenv("CALLCENTER_ATTACHMENT_MAX_BYTES", str(LIMIT))
        yield host


def _call(method: str, site: str, path: str, who: str = "sup", **kw: Any) -> Any:
    r = httpx.request(method, f"{site}{path}", headers=token(site, who), **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


@pytest.fixture(scope="module")
def world(running_site: Site, relay: Smarthost) -> dict[str, Any]:
    """Group support (amy), customer Li Lei with an email, the fault type's form."""
    site = running_site.url
    amy = _call("GET", site, "/api/agents/me", "amy")["user_id"]
    group = _call("POST", site, "/api/ticket-groups", json={"name": "support"})
    _call("PUT", site, f"/api/ticket-groups/{group['id']}/members", json={"user_ids": [amy]})
    li = _call("POST", site, "/api/customers", json={"name": "Li Lei", "emails": ["li@c.test"]})
    _call("PATCH", site, "/api/ticket-types/fault", "boss", json={"form": FORM})

    def ticket(subject: str) -> int:
        body = {"subject": subject, "requester_id": li["id"], "group_id": group["id"]}
        return int(_call("POST", site, "/api/tickets", json=body)["id"])

    return {"amy": amy, "customer": li["id"], "group": group["id"], "ticket": ticket}


def _open(browser: Any, site: str, ticket_id: int) -> Any:
    page = open_as(browser, site, f"tickets.html#ticket={ticket_id}", "amy")
    page.wait_for_selector("#detail:not([hidden])")
    return page


def _message(page: Any) -> str:
    page.wait_for_function("document.getElementById('d-message').textContent !== ''")
    return str(page.locator("#d-message").inner_text())


def test_a_file_goes_up_with_a_note_and_comes_back_down(running_site, browser, world, tmp_path):
    site = running_site.url
    ticket = world["ticket"]("Router keeps rebooting")
    page = _open(browser, site, ticket)
    page.fill("#comment-body", "Photo of the router's lights")
    page.set_input_files(
        "#comment-file", files=[{"name": "路由器.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.click("#note")
    note = page.locator("#history li.comment.internal")
    note.locator("button.file").wait_for()
    assert "Photo of the router's lights" in note.inner_text()
    assert "路由器.png" in note.locator("button.file").inner_text()
    assert page.locator("#comment-file").evaluate("input => input.files.length") == 0
    with page.expect_download() as got:
        note.locator("button.file").click()
    download = got.value
    assert download.suggested_filename == "路由器.png"
    saved = Path(download.path()).read_bytes()
    assert hashlib.sha256(saved).hexdigest() == hashlib.sha256(PNG).hexdigest()
    # An internal note's file is internal; the ticket stays new.
    (item,) = _call("GET", site, f"/api/tickets/{ticket}/attachments", "amy")["items"]
    assert (item["public"], item["filename"]) == (False, "路由器.png")
    assert page.locator("#d-status").inner_text() == "New"
    # A file alone (no text) is its own item, public with the reply button.
    page.set_input_files(
        "#comment-file",
        files=[{"name": "log.txt", "mimeType": "text/plain", "buffer": b"boot loop at 03:12\n"}],
    )
    page.click("#reply")
    page.wait_for_selector("#history li.comment.public button.file")
    assert "attachment" in page.locator("#history li.comment.public").inner_text().lower()
    page.close()


def test_a_refused_upload_says_why_and_stores_nothing(running_site, browser, world):
    site = running_site.url
    ticket = world["ticket"]("Slow line")
    page = _open(browser, site, ticket)
    before = _call("GET", site, f"/api/tickets/{ticket}/history", "amy")["items"]

    page.fill("#comment-body", "The speed test, attached")
    page.set_input_files(
        "#comment-file",
        files=[{"name": "speed.txt", "mimeType": "text/plain", "buffer": b"x" * (LIMIT * 4)}],
    )
    page.click("#reply")
    message = _message(page)
    assert message.startswith("File too large, not uploaded:") and "larger than" in message
    red = page.locator("#d-message").evaluate("node => getComputedStyle(node).color")
    assert red == "rgb(185, 28, 28)"

    page.set_input_files(
        "#comment-file",
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": b"not a picture at all"}],
    )
    page.click("#reply")
    page.wait_for_function("document.getElementById('d-message').textContent.includes('type')")
    message = page.locator("#d-message").inner_text()
    assert message.startswith("File type not accepted, not uploaded:")
    assert "photo.png is not a PNG image" in message
    # Nothing stored: no attachment, no comment, no history, and the text is still there.
    assert _call("GET", site, f"/api/tickets/{ticket}/attachments", "amy")["items"] == []
    assert _call("GET", site, f"/api/tickets/{ticket}/history", "amy")["items"] == before
    assert page.locator("#history li.comment").count() == 0
    assert page.locator("#comment-body").input_value() == "The speed test, attached"
    assert page.locator("#d-status").inner_text() == "New"

    page.click("button[data-lang=zh]")
    page.click("#reply")
    page.wait_for_function("document.getElementById('d-message').textContent.includes('不接受')")
    page.click("button[data-lang=en]")
    page.close()


def test_the_types_form_is_filled_in_and_saved(running_site, browser, world):
    site = running_site.url
    ticket = world["ticket"]("No dial tone")
    page = _open(browser, site, ticket)
    # Active types with their labels; consultation's form is empty, so no form shows.
    labels = page.locator("#type option").all_inner_texts()
    assert labels[:4] == ["Consultation", "Complaint", "Fault", "Other"]
    assert page.locator("#custom").is_hidden()

    page.select_option("#type", "fault")
    page.wait_for_selector("#custom:not([hidden]) #cf-model")
    assert page.locator("label[for=cf-model]").inner_text() == "Model *"
    assert page.locator("#cf-line option").all_inner_texts() == ["—", "fiber", "dsl"]
    assert page.locator("#cf-since").get_attribute("type") == "date"
    page.select_option("#cf-line", "dsl")
    page.click("#save-fields")  # the required model is missing: the server says so
    page.wait_for_function("document.getElementById('cf-model-error').textContent !== ''")
    assert "model is required" in page.locator("#cf-model-error").inner_text()
    assert _call("GET", site, f"/api/tickets/{ticket}", "amy")["type"] == "consultation"

    page.fill("#cf-model", "TP-Link AX55")
    page.fill("#cf-since", "2026-11-20")
    page.fill("#cf-ports", "4")
    page.select_option("#cf-outdoor", "false")
    page.click("#save-fields")
    page.wait_for_function("document.getElementById('d-message').textContent === 'Saved.'")
    saved = _call("GET", site, f"/api/tickets/{ticket}", "amy")
    assert saved["type"] == "fault"
    assert saved["custom_fields"] == {
        "model": "TP-Link AX55",
        "line": "dsl",
        "since": "2026-11-20",
        "ports": 4,
        "outdoor": False,
    }
    # Drawn again from what was stored; the history names the new type by its label.
    assert page.locator("#cf-model").input_value() == "TP-Link AX55"
    assert page.locator("#fields-state").inner_text() == ""
    assert "type: Consultation → Fault" in page.locator("#history").inner_text()

    # Changed elsewhere, it arrives live; in Chinese, the labels are the form's own.
    _call(
        "PATCH",
        site,
        f"/api/tickets/{ticket}",
        "amy",
        json={"custom_fields": {**saved["custom_fields"], "line": "fiber"}},
    )
    page.wait_for_function("document.getElementById('cf-line').value === 'fiber'", timeout=3000)
    page.click("button[data-lang=zh]")
    assert page.locator("label[for=cf-model]").inner_text() == "型号 *"
    assert page.locator("#type option:checked").inner_text() == "故障"
    page.click("button[data-lang=en]")
    page.close()


def test_links_solving_incidents_and_a_merge(running_site, browser, world):
    site = running_site.url
    outage = world["ticket"]("Outage in Haidian")
    incident = world["ticket"]("Internet down since 9:00")
    twin = world["ticket"]("Internet down (second mail)")
    page = _open(browser, site, incident)
    assert page.locator("#no-links").is_visible()

    page.select_option("#link-kind", "problem")
    page.fill("#link-id", str(outage))
    page.click("#link-add")
    page.wait_for_selector(f"#links li[data-ticket='{outage}']")
    row = page.locator(f"#links li[data-ticket='{outage}']").inner_text()
    assert "Problem" in row and "Outage in Haidian" in row
    (back,) = _call("GET", site, f"/api/tickets/{outage}/links", "amy")["items"]
    assert (back["ticket_id"], back["kind"]) == (incident, "incident")
    assert page.locator("#solve-box").is_hidden()  # an incident has nothing to solve
    # A refused link says why, in place.
    page.fill("#link-id", str(incident))
    page.click("#link-add")
    assert "itself" in _message(page)

    # The problem solves its incidents, after a confirmation.
    page.click(f"#links li[data-ticket='{outage}'] a")
    page.wait_for_function(f"document.getElementById('d-id').textContent === '#{outage}'")
    page.click("#solve-box summary")
    page.fill("#solve-body", "The fibre cut is repaired")
    page.check("#solve-public")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#solve")
    page.wait_for_function("document.getElementById('d-status').textContent === 'Solved'")
    assert _call("GET", site, f"/api/tickets/{incident}", "amy")["status"] == "solved"

    # A merge asks first; refused, nothing happens; accepted, the target opens.
    page.click(f"#list tr[data-id='{twin}']")
    page.wait_for_function(f"document.getElementById('d-id').textContent === '#{twin}'")
    page.click("#merge-box summary")
    page.fill("#merge-into", str(incident))
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#merge")
    assert _call("GET", site, f"/api/tickets/{twin}", "amy")["status"] == "new"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#merge")
    page.wait_for_function(f"document.getElementById('d-id').textContent === '#{incident}'")
    page.wait_for_selector(f"#links li[data-ticket='{twin}']")
    assert "Duplicate" in page.locator(f"#links li[data-ticket='{twin}']").inner_text()
    assert _call("GET", site, f"/api/tickets/{twin}", "amy")["status"] == "closed"

    page.click(f"#links li[data-ticket='{outage}'] button.remove")
    page.wait_for_selector(f"#links li[data-ticket='{outage}']", state="detached")
    assert _call("GET", site, f"/api/tickets/{outage}/links", "amy")["items"] == []
    page.close()


def test_the_customers_reply_their_mails_and_the_portal_link(running_site, browser, world, relay):
    site, services = running_site.url, running_site.app.state.services
    ticket = world["ticket"]("Refund for March")
    page = _open(browser, site, ticket)
    page.fill("#comment-body", "We have started the refund")
    page.click("#reply")
    page.wait_for_selector("#history li.comment.public")
    relay.wait(1, within=10)

    # Li answers by mail: it arrives live and reads as the customer's, not an agent's.
    running_site.run(
        services.tickets().customer_reply(
            ticket, world["customer"], "Thank you, when will it arrive?", "mail"
        )
    )
    reply = page.locator("#history li.comment.customer")
    reply.wait_for(timeout=3000)
    assert "customer's reply" in reply.inner_text().lower() and "Li Lei" in reply.inner_text()
    assert "when will it arrive" in reply.inner_text()
    colors = page.evaluate("""() => ['customer', 'public'].map(k => getComputedStyle(
        document.querySelector('#history li.comment.' + k)).backgroundColor)""")
    assert colors[0] != colors[1]

    # The reply mail with its delivery status (reloaded to read it after it was sent).
    page.reload()
    page.wait_for_selector("#mails:not([hidden])")
    page.click("#mails summary")
    mail = page.locator("#mail-list li").first
    assert "li@c.test" in mail.inner_text() and mail.get_attribute("data-status") == "sent"
    assert "Sent" in mail.inner_text()

    page.click("#portal-link")
    page.wait_for_selector("#portal-url:not([hidden])")
    url = page.locator("#portal-url").input_value()
    assert "/portal.html#token=pl." in url
    page.close()


def test_an_sla_breach_shows_on_the_ticket_and_in_the_list(running_site, browser, world):
    site, services = running_site.url, running_site.app.state.services
    clock = services.clock
    _call(
        "PUT",
        site,
        "/api/sla/calendars/always",
        "boss",
        json={"timezone": "Asia/Shanghai", "hours": "24x7"},
    )
    _call(
        "PUT",
        site,
        "/api/sla/policies/fast",
        "boss",
        json={
            "position": 1,
            "calendar": "always",
            "default": {"first_response": 10, "resolution": 120},
            "warn_before": {"minutes": 5},
        },
    )
    ticket = world["ticket"]("Phone line crackles")
    running_site.run(services.sla.settle())
    page = _open(browser, site, ticket)
    page.wait_for_selector("#d-sla .clock[data-metric=first_response]")
    first = page.locator("#d-sla .clock[data-metric=first_response]")
    assert first.get_attribute("data-status") == "active" and "due" in first.inner_text()
    assert page.locator("#d-sla-badge").is_hidden()

    clock.advance(timedelta(minutes=6))  # past the warning point: due soon, live
    running_site.run(services.sla.tick())
    page.wait_for_function(
        "document.getElementById('d-sla-badge').textContent === 'SLA due soon'", timeout=3000
    )
    clock.advance(timedelta(minutes=5))  # past the target: breached, live
    running_site.run(services.sla.tick())
    page.wait_for_function(
        "document.getElementById('d-sla-badge').textContent === 'SLA breached'", timeout=3000
    )
    assert first.get_attribute("data-status") == "breached"
    assert "Breached" in first.inner_text()
    row = page.locator(f"#list tr[data-id='{ticket}'] .badge.sla-breached")
    row.wait_for(timeout=3000)
    assert row.inner_text() == "SLA breached"
    color = page.locator("#d-sla-badge").evaluate("node => getComputedStyle(node).backgroundColor")
    assert color == "rgb(220, 38, 38)"
    page.close()
