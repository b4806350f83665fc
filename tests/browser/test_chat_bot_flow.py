"""The bot-first chat in real browsers (issue 8's acceptance): the labelled KB imported
through the API; a visitor on chat-demo.html asks a rephrased question and gets the KB
answer from the bot, then asks for a person; an agent (a second browser context) gets
the offer, sees the bot conversation, replies, makes a ticket of the chat (its
description the transcript), ends it; the visitor rates it."""

from __future__ import annotations

import httpx

from tests.browser.conftest import open_as, token
from tests.support.kb import ENTRIES_FILE

W = "#callcenter-chat"


def test_bot_answers_hands_over_and_the_chat_becomes_a_ticket(site, browser):
    boss, amy_headers = token(site, "boss"), token(site, "amy")
    r = httpx.post(f"{site}/api/kb/import", headers=boss, timeout=60,
                   files={"file": ("kb.md", ENTRIES_FILE.read_bytes())})  # fmt: skip
    assert r.status_code == 200, r.text
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy_headers).json()["user_id"]
    r = httpx.put(f"{site}/api/agents/{amy_id}/profile", headers=boss,
                  json={"skills": {"chat": 1}, "chat_capacity": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    group = httpx.post(f"{site}/api/ticket-groups", json={"name": "web"}, headers=boss).json()
    r = httpx.put(f"{site}/api/ticket-groups/{group['id']}/members", headers=boss,
                  json={"user_ids": [amy_id]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert httpx.put(f"{site}/api/agents/me/state", json={"state": "available"},
                     headers=amy_headers).status_code == 200  # fmt: skip

    agent_context, visitor_context = browser.new_context(), browser.new_context()
    agent = open_as(agent_context, site, "chats.html", "amy")
    agent.wait_for_selector("#desk:not([hidden])")

    visitor = visitor_context.new_page()
    visitor.goto(f"{site}/chat-demo.html?lang=en")
    visitor.click(f"{W} .launcher")
    visitor.fill(f"{W} .compose input[name=body]", "forgot my pasword cant log in")
    visitor.press(f"{W} .compose input[name=body]", "Enter")
    answer = visitor.wait_for_selector(f"{W} .m.bot[data-seq='2']", timeout=10000)
    assert "Forgot password" in answer.inner_text()
    assert "Assistant" in answer.inner_text()  # shown as the bot's, not an agent's
    # Nobody is offered a chat the bot is handling.
    assert agent.query_selector(".offer") is None

    visitor.click(f"{W} button.person")  # "Talk to a person": sends "agent"
    visitor.wait_for_selector(f"{W} .m.bot[data-seq='4']")
    visitor.wait_for_selector(f"{W} .status:has-text('Waiting for an agent')")

    agent.wait_for_selector(".offer button.accept", timeout=10000)
    assert "forgot my pasword cant log in" in agent.inner_text(".offer")
    agent.click(".offer button.accept")
    agent.wait_for_selector("#log .m.bot:has-text('On the sign-in page')")
    agent.wait_for_selector("#log .m.visitor:has-text('agent')")
    visitor.wait_for_selector(f"{W} .m.system:has-text('amy joined the chat')")
    agent.fill("#compose input[name=body]", "Hi, I'm Amy. Did the reset work?")
    agent.click("#compose button[name=send]")
    visitor.wait_for_selector(f"{W} .m.agent:has-text('Did the reset work?')")

    agent.click("#make-ticket")
    link = agent.wait_for_selector("#ticket-link:not([hidden])", timeout=5000)
    ticket_id = int(link.inner_text().split("#")[1])
    ticket = httpx.get(f"{site}/api/tickets/{ticket_id}", headers=amy_headers).json()
    assert ticket["subject"] == "forgot my pasword cant log in"
    assert ticket["source"] == "chat"
    for said in ("forgot my pasword cant log in", "Bot: On the sign-in page", "agent",
                 "amy: Hi, I'm Amy. Did the reset work?"):  # fmt: skip
        assert said in ticket["description"], (said, ticket["description"])

    agent.click("#compose button[name=end]")
    visitor.wait_for_selector(f"{W} .csat:not(.hidden)", timeout=5000)
    visitor.click(f"{W} .stars button[data-score='5']")
    visitor.click(f"{W} .csat button.primary")
    visitor.wait_for_selector(f"{W} .m.system:has-text('Thank you for your feedback!')")

    sup = token(site, "sup")
    chats = httpx.get(f"{site}/api/chats", params={"state": "ended"}, headers=sup).json()["items"]
    assert [(c["csat_score"], c["ticket_id"], c["handoff_reason"]) for c in chats] == [
        (5, ticket_id, "asked_for_human")]  # fmt: skip
    agent_context.close()
    visitor_context.close()
