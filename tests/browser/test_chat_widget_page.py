"""Web chat in real browsers: a visitor on chat-demo.html and an agent on chats.html
(two browser contexts) chat both ways, see each other typing; the agent ends the chat
and the visitor rates it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import open_as, token


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    """Straight to an agent: the bot's part is test_chat_bot_flow.py."""
    return {"chat_bot": False}


def test_a_visitor_and_an_agent_chat_and_the_visitor_rates(site, browser):
    boss, amy_headers = token(site, "boss"), token(site, "amy")
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy_headers).json()["user_id"]
    r = httpx.put(f"{site}/api/agents/{amy_id}/profile", headers=boss,
                  json={"skills": {"chat": 1}, "chat_capacity": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    assert httpx.put(f"{site}/api/agents/me/state", json={"state": "available"},
                     headers=amy_headers).status_code == 200  # fmt: skip

    agent_context, visitor_context = browser.new_context(), browser.new_context()
    agent = open_as(agent_context, site, "chats.html", "amy")
    agent.wait_for_selector("#desk:not([hidden])")
    agent.wait_for_function("document.getElementById('online').textContent === 'online'")

    visitor = visitor_context.new_page()
    visitor.goto(f"{site}/chat-demo.html?lang=en")
    visitor.click("#callcenter-chat .launcher")
    # The host page paints every button hot pink with !important: not inside the widget.
    send_color = visitor.eval_on_selector(
        "#callcenter-chat .compose button.primary", "b => getComputedStyle(b).backgroundColor"
    )
    assert send_color == "rgb(31, 111, 235)"
    visitor.fill("#callcenter-chat .compose input[name=body]", "Hello, is my order shipped?")
    visitor.press("#callcenter-chat .compose input[name=body]", "Enter")
    visitor.wait_for_selector("#callcenter-chat .m.visitor[data-seq='1']:not(.pending)")

    agent.wait_for_selector(".offer button.accept", timeout=5000)
    assert "Hello, is my order shipped?" in agent.inner_text(".offer")
    agent.click(".offer button.accept")
    agent.wait_for_selector("#log .m.visitor")
    visitor.wait_for_selector("#callcenter-chat .m.system:has-text('amy joined the chat')")

    # Typing, both ways (shown, never stored).
    visitor.type("#callcenter-chat .compose input[name=body]", "one more")
    agent.wait_for_selector("#typing:has-text('The visitor is typing')", timeout=5000)
    visitor.fill("#callcenter-chat .compose input[name=body]", "")
    agent.type("#compose input[name=body]", "Yes")
    visitor.wait_for_selector("#callcenter-chat .status:has-text('amy is typing')", timeout=5000)
    agent.fill("#compose input[name=body]", "Yes, it left this morning.")
    agent.click("#compose button[name=send]")
    visitor.wait_for_selector("#callcenter-chat .m.agent:has-text('Yes, it left this morning.')")
    # An internal note stays on the agent's side.
    agent.fill("#compose input[name=body]", "asked twice already")
    agent.click("#compose button[name=note]")
    agent.wait_for_selector("#log .m.note:has-text('asked twice already')")

    visitor.fill("#callcenter-chat .compose input[name=body]", "Great, thanks!")
    visitor.press("#callcenter-chat .compose input[name=body]", "Enter")
    agent.wait_for_selector("#log .m.visitor:has-text('Great, thanks!')", timeout=5000)

    agent.click("#compose button[name=end]")
    visitor.wait_for_selector("#callcenter-chat .csat:not(.hidden)", timeout=5000)
    assert "asked twice already" not in visitor.inner_text("#callcenter-chat .log")
    visitor.click("#callcenter-chat .stars button[data-score='4']")
    visitor.fill("#callcenter-chat .csat textarea", "Fast answer")
    visitor.click("#callcenter-chat .csat button.primary")
    visitor.wait_for_selector("#callcenter-chat .m.system:has-text('Thank you for your feedback!')")

    sup = token(site, "sup")
    chats = httpx.get(f"{site}/api/chats", params={"state": "ended"}, headers=sup).json()["items"]
    assert [(c["csat_score"], c["csat_comment"]) for c in chats] == [(4, "Fast answer")]
    agent_context.close()
    visitor_context.close()
