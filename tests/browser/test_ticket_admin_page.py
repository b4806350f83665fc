"""The ticket settings page in a real browser: an admin makes a type with a form field,
a calendar and a policy, a trigger and a webhook (its secret shown once), and meets the
API's 422 at the field it names; an agent is refused, by the page and by the API.

Every check reads back through the API: what the page shows was stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PASSWORD, open_as, token


def _open(browser: Any, site: str, user: str = "boss", tab: str = "") -> Any:
    page = open_as(browser, site, "ticket-admin.html", user)
    page.wait_for_selector("#admin:not([hidden])")
    if tab:
        page.click(f"nav.tabs button[data-tab={tab}]")
        page.wait_for_selector(f"#tab-{tab}:not([hidden])")
    return page


def _get(site: str, path: str, who: str = "boss") -> Any:
    r = httpx.get(f"{site}{path}", headers=token(site, who))
    assert r.status_code == 200, r.text
    return r.json()


def _error_at(page: Any, form: str, loc: str) -> str:
    """The error shown right after the control whose data-loc is `loc`."""
    selector = f"{form} [data-loc='{loc}'] + small.error"
    page.wait_for_selector(selector)
    control = page.locator(f"{form} [data-loc='{loc}']")
    assert control.evaluate("e => e.classList.contains('invalid')")
    return str(page.locator(selector).inner_text())


def test_an_admin_makes_a_type_with_a_form_and_sees_a_bad_field_at_its_place(site, browser):
    page = _open(browser, site, tab="types")
    page.click("#type-new")
    page.fill("#type-form [name=name]", "warranty")
    page.fill("#type-form [name=label_en]", "Warranty claim")
    page.fill("#type-form [name=label_zh]", "保修申请")
    page.click("#field-add")
    page.click("#field-add")
    first, second = page.locator("#type-form .row").nth(0), page.locator("#type-form .row").nth(1)
    first.locator("[name=key]").fill("model")
    first.locator("[name=f_label_en]").fill("Model")
    first.locator("[name=f_label_zh]").fill("型号")
    first.locator("[name=kind]").select_option("choice")
    first.locator("[name=required]").check()
    first.locator("[name=choices]").fill("X1, X2")
    # The second field's key is not a key: refused, shown at that key, nothing stored.
    second.locator("[name=key]").fill("serial number")
    second.locator("[name=f_label_en]").fill("Serial")
    second.locator("[name=f_label_zh]").fill("序列号")
    page.click("#type-form button.primary")
    assert "pattern" in _error_at(page, "#type-form", "form.1.key")
    assert page.locator("#type-form .error").count() == 1
    every = _get(site, "/api/ticket-types?include_inactive=true")
    assert "warranty" not in [t["name"] for t in every]

    second.locator("[name=key]").fill("serial")
    page.click("#type-form button.primary")
    page.wait_for_selector("#types-table tr[data-name=warranty]")
    stored = _get(site, "/api/ticket-types/warranty")
    assert stored["label_zh"] == "保修申请" and stored["active"] is True
    assert stored["form"] == [
        {"key": "model", "label_en": "Model", "label_zh": "型号", "kind": "choice",
         "required": True, "choices": ["X1", "X2"]},
        {"key": "serial", "label_en": "Serial", "label_zh": "序列号", "kind": "text",
         "required": False, "choices": []},
    ]  # fmt: skip

    # Edit: the labels change, the form stays as it was.
    page.click("#types-table tr[data-name=warranty] button.edit")
    page.fill("#type-form [name=label_en]", "Warranty")
    page.click("#type-form button.primary")
    page.wait_for_selector("#types-table tr[data-name=warranty] td:text-is('Warranty')")
    edited = _get(site, "/api/ticket-types/warranty")
    assert edited["label_en"] == "Warranty" and edited["form"] == stored["form"]

    page.click("#types-table tr[data-name=warranty] button.toggle")
    page.wait_for_selector("#types-table tr[data-name=warranty] .badge:not(.on)")
    assert _get(site, "/api/ticket-types/warranty")["active"] is False
    page.click("button[data-lang=zh]")
    assert page.locator("nav.tabs button[data-tab=types]").inner_text() == "类型与表单"
    assert page.locator("#types-table tr[data-name=warranty] .badge").inner_text() == "停用"
    page.click("button[data-lang=en]")
    page.close()


def test_an_admin_makes_a_calendar_and_a_policy(site, browser):
    page = _open(browser, site, tab="sla")
    page.click("#calendar-new")
    page.fill("#calendar-form [name=name]", "support-cn")
    page.fill("#calendar-form [name=timezone]", "Mars/Olympus")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        page.fill(f"#calendar-form [name=h_{day}]", "09:00-12:00, 13:00-18:00")
    page.fill("#calendar-form [name=holidays]", "2026-10-01, 2026-10-02")
    page.fill("#calendar-form [name=special_days]", "2026-09-27: 09:00-18:00")
    page.click("#calendar-form button.primary")
    assert "IANA" in _error_at(page, "#calendar-form", "timezone")
    assert _get(site, "/api/sla/calendars") == []

    page.fill("#calendar-form [name=timezone]", "Asia/Shanghai")
    page.click("#calendar-form button.primary")
    page.wait_for_selector("#calendars-table tr[data-name=support-cn]")
    (calendar,) = _get(site, "/api/sla/calendars")
    assert calendar["timezone"] == "Asia/Shanghai"
    assert calendar["hours"]["mon"] == ["09:00-12:00", "13:00-18:00"]
    assert "sat" not in calendar["hours"]
    assert calendar["holidays"] == ["2026-10-01", "2026-10-02"]
    assert calendar["special_days"] == {"2026-09-27": ["09:00-18:00"]}

    page.click("#policy-new")
    page.fill("#policy-form [name=name]", "standard")
    page.fill("#policy-form [name=position]", "1")
    page.check("#policy-form input[name=priorities][value=urgent]")
    page.fill("#policy-form [name=d_first_response]", "60")
    page.fill("#policy-form [name=d_resolution]", "480")
    page.click("#target-add")
    target = page.locator("#policy-form .target").first
    target.locator("[name=t_priority]").select_option("urgent")
    target.locator("[name=t_first_response]").fill("15")
    page.fill("#policy-form [name=warn_value]", "80")
    page.fill("#policy-form [name=on_breach]", "notify:supervisor, priority:urgent")
    page.click("#policy-form button.primary")
    page.wait_for_selector("#policies-table tr[data-name=standard]")
    (policy,) = _get(site, "/api/sla/policies")
    assert (policy["calendar"], policy["position"]) == ("support-cn", 1)
    assert policy["priorities"] == ["urgent"]
    assert policy["default"] == {"first_response": 60, "resolution": 480}
    assert policy["targets"] == [{"priority": "urgent", "first_response": 15}]
    assert policy["warn_before"] == {"percent": 80}
    assert policy["on_breach"] == ["notify:supervisor", "priority:urgent"]

    # Deleting asks first; a calendar a policy uses is refused (409), and the page says so.
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#calendars-table tr[data-name=support-cn] button.delete")
    page.wait_for_function("document.getElementById('message').textContent.startsWith('409')")
    assert [c["name"] for c in _get(site, "/api/sla/calendars")] == ["support-cn"]
    page.click("#policies-table tr[data-name=standard] button.delete")
    page.wait_for_selector("#policies-table tr[data-name=standard]", state="detached")
    assert _get(site, "/api/sla/policies") == []
    page.close()


def test_an_admin_makes_a_trigger_and_orders_the_list(site, browser):
    page = _open(browser, site, tab="rules")
    page.click("#trigger-new")
    page.fill("#trigger-form [name=name]", "Billing words")
    # Conditions: the new rule's "event is created", and "subject contains invoice".
    page.click("#trigger-form [data-loc='conditions.all'] button.add_condition")
    second = page.locator("#trigger-form .condition").nth(1)
    second.locator("[name=field]").select_option("subject")
    second.locator("[name=value]").fill("invoice")
    # Actions: an email with no subject (refused at that subject), then tags.
    action = page.locator("#trigger-form .action").first
    action.locator("[name=type]").select_option("email")
    action.locator("[name=body]").fill("We got #{id}")
    page.click("#trigger-form [data-loc='actions'] button.add_action")
    tags = page.locator("#trigger-form .action").nth(1)
    tags.locator("[name=type]").select_option("add_tags")
    tags.locator("[name=tags]").fill("billing, invoice")
    page.click("#trigger-form button.save")
    assert "at least 1 character" in _error_at(page, "#trigger-form", "actions.0.email.subject")
    assert _get(site, "/api/ticket-triggers") == []

    action.locator("[name=subject]").fill("#{id}: we are on it")
    page.click("#trigger-form button.save")
    page.wait_for_selector("#triggers-table tbody tr")
    page.click("#trigger-new")
    page.fill("#trigger-form [name=name]", "Tag new ones")
    page.locator("#trigger-form .action [name=type]").select_option("add_tags")
    page.fill("#trigger-form .action [name=tags]", "fresh")
    page.click("#trigger-form button.save")
    page.wait_for_function("document.querySelectorAll('#triggers-table tbody tr').length === 2")
    made = _get(site, "/api/ticket-triggers")
    assert made[0]["conditions"] == {"all": [
        {"field": "event", "op": "is", "value": "created"},
        {"field": "subject", "op": "contains", "value": "invoice"}], "any": []}  # fmt: skip
    assert made[0]["actions"] == [
        {"type": "email", "to": "requester", "subject": "#{id}: we are on it",
         "body": "We got #{id}"},
        {"type": "add_tags", "tags": ["billing", "invoice"]},
    ]  # fmt: skip
    first, second = (t["id"] for t in made)
    page.click(f"#triggers-table tr[data-id='{second}'] button.up")
    page.wait_for_selector(f"#triggers-table tbody tr:first-child[data-id='{second}']")
    assert [t["id"] for t in _get(site, "/api/ticket-triggers")] == [second, first]
    page.click(f"#triggers-table tr[data-id='{first}'] button.toggle")
    page.wait_for_selector(f"#triggers-table tr[data-id='{first}'] .badge:not(.on)")
    assert _get(site, f"/api/ticket-triggers/{first}")["active"] is False

    # An automation: the time condition is a row of its own.
    page.click("#automation-new")
    page.fill("#automation-form [name=name]", "Close solved")
    page.select_option("#automation-form [name=since_field]", "status")
    page.select_option("#automation-form [data-loc='conditions.since.value']", "solved")
    page.fill("#automation-form [name=hours]", "0")
    page.click("#automation-form button.save")
    _error_at(page, "#automation-form", "conditions.since.hours")
    page.fill("#automation-form [name=hours]", "168")
    page.click("#automation-form button.save")
    page.wait_for_selector("#automations-table tbody tr")
    (automation,) = _get(site, "/api/ticket-automations")
    assert automation["conditions"]["since"] == {"field": "status", "value": "solved", "hours": 168}
    assert automation["actions"] == [{"type": "set", "field": "status", "value": "closed"}]
    page.close()


def test_an_admin_makes_a_webhook_and_sees_its_secret_once(site, browser):
    page = _open(browser, site, tab="webhooks")
    page.fill("#webhook-form [name=name]", "crm")
    page.fill("#webhook-form [name=url]", "ftp://crm.example")
    page.click("#webhook-form button.primary")
    assert "http" in _error_at(page, "#webhook-form", "url")
    page.fill("#webhook-form [name=url]", "http://127.0.0.1:9/hook")
    page.click("#webhook-form button.primary")
    page.wait_for_selector("#secret:not([hidden]) code")
    secret = page.locator("#secret code").inner_text()
    assert len(secret) >= 16
    (hook,) = [h for h in _get(site, "/api/webhooks") if h["name"] == "crm"]
    assert hook["event_types"] == ["ticket."] and "secret" not in hook
    # Shown once: opening the tab again does not show it.
    page.click("nav.tabs button[data-tab=groups]")
    page.click("nav.tabs button[data-tab=webhooks]")
    page.wait_for_selector(f"#webhooks-table tr[data-id='{hook['id']}']")
    assert page.locator("#secret").is_hidden() and secret not in page.content()
    page.click(f"#webhooks-table tr[data-id='{hook['id']}'] button.show-deliveries")
    page.wait_for_selector("#deliveries h2")
    page.close()


class Receiver:
    """A real HTTP receiver on 127.0.0.1: answers `status` to every POST."""

    def __init__(self) -> None:
        self.status = 400
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hits += 1
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    yield got
    got.server.shutdown()
    got.server.server_close()


def _until(read: Any, done: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_a_dead_letter_is_replayed_from_the_page(site, browser, receiver):
    boss = token(site, "boss")
    made = httpx.post(
        f"{site}/api/webhooks",
        headers=boss,
        json={"name": "refusing", "url": receiver.url, "event_types": ["ticket.created"]},
    )
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    group = httpx.post(f"{site}/api/ticket-groups", json={"name": "hooks"}, headers=boss).json()
    customer = httpx.post(f"{site}/api/customers", json={"name": "Han Mei"}, headers=boss).json()
    ticket = {"subject": "Hook me", "requester_id": customer["id"], "group_id": group["id"]}
    assert httpx.post(f"{site}/api/tickets", json=ticket, headers=boss).status_code == 201
    # A 4xx is final: the delivery is a dead letter at once.
    dead = _until(lambda: _get(site, "/api/webhooks/dead-letters"),
                  lambda d: any(x["webhook_id"] == hook for x in d))  # fmt: skip
    (letter,) = [x for x in dead if x["webhook_id"] == hook]

    page = _open(browser, site, tab="webhooks")
    row = f"#dead-letters tr[data-id='{letter['id']}']"
    page.wait_for_selector(row)
    assert "400" in page.locator(row).inner_text()
    receiver.status = 200  # the receiver is fixed
    page.click(f"{row} button.replay")
    page.wait_for_function("document.getElementById('replayed').textContent.endsWith(' 1')")
    delivered = _until(lambda: _get(site, f"/api/webhooks/{hook}/deliveries")[0],
                       lambda d: d["state"] == "delivered")  # fmt: skip
    assert delivered["state"] == "delivered" and receiver.hits == 2
    page.click(f"#webhooks-table tr[data-id='{hook}'] button.show-deliveries")
    page.wait_for_selector(f"#deliveries tr[data-id='{letter['id']}'] .badge.on")
    page.close()


def test_an_admin_makes_a_group_its_members_and_its_rule(site, browser):
    amy = httpx.get(f"{site}/api/agents/me", headers=token(site, "amy")).json()["user_id"]
    page = _open(browser, site, tab="groups")
    page.fill("#group-new [name=name]", "Bad Name")
    page.click("#group-new button.primary")
    _error_at(page, "#group-new", "name")
    page.fill("#group-new [name=name]", "support")
    page.click("#group-new button.primary")
    (group,) = [g for g in _get(site, "/api/ticket-groups") if g["name"] == "support"]
    page.click(f"#groups-table tr[data-id='{group['id']}']")
    page.check(f"#members input[value='{amy}']")
    page.click("#members button.primary")
    row = f"#groups-table tr[data-id='{group['id']}']"
    page.wait_for_selector(f"{row} td:has-text('amy')")
    (group,) = [g for g in _get(site, "/api/ticket-groups") if g["name"] == "support"]
    assert group["members"] == [amy]

    page.click(row)
    page.select_option("#assignment [name=strategy]", "round_robin")
    page.fill("#assignment [name=by_type]", "warp_drive: engines")
    page.click("#assignment button.primary")
    assert "unknown ticket type" in _error_at(page, "#assignment", "skills.by_type")
    assert _get(site, f"/api/ticket-groups/{group['id']}/assignment")["strategy"] == "none"
    page.fill("#assignment [name=by_type]", "fault: network")
    page.click("#assignment button.primary")
    page.wait_for_selector("#assignment .ok:has-text('Saved')")
    rule = _get(site, f"/api/ticket-groups/{group['id']}/assignment")
    assert (rule["strategy"], rule["skills"]["by_type"]) == ("round_robin", {"fault": "network"})
    page.close()


def test_an_agent_is_refused(site, browser):
    page = open_as(browser, site, "ticket-admin.html", "amy")
    page.wait_for_selector("#refused:not([hidden])")
    assert "tickets.admin" in page.locator("#refused").inner_text()
    assert page.locator("#admin").is_hidden()
    # Someone who may can still log in here, and the refusal goes.
    page.fill("input[name=username]", "sup")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#admin:not([hidden])")
    assert page.locator("#refused").is_hidden()
    r = httpx.get(f"{site}/api/ticket-triggers", headers=token(site, "amy"))
    assert r.status_code == 403
    r = httpx.post(f"{site}/api/ticket-types", headers=token(site, "amy"),
                   json={"name": "sneaky", "label_en": "S", "label_zh": "S"})  # fmt: skip
    assert r.status_code == 403
    page.close()


def test_a_supervisor_finds_the_page_and_sees_the_settings_but_not_webhooks(site, browser):
    start = browser.new_page()
    start.goto(f"{site}/")
    start.click("a[href='/ticket-admin.html']")
    start.wait_for_selector("form#login input[name=username]")
    start.close()
    page = _open(browser, site, user="sup", tab="webhooks")
    page.wait_for_selector("#webhooks-refused")
    assert "webhooks.admin" in page.locator("#webhooks-refused").inner_text()
    page.close()
