"""The quality page in a real browser: a supervisor listens to a recorded call, scores
it and sees the agent's trend; the agent then sees the review and acknowledges it.

No telephony runs: the call is seeded through the server's own CallService, with a
real WAV in the recordings directory, as a finished conversation leaves it.
"""

from __future__ import annotations

import httpx

from tests.browser.conftest import Site, open_as, token
from tests.support.quality import CARD, finished_call


def _login(browser, site: str, user: str):
    page = open_as(browser, site, "quality.html", user)
    page.wait_for_selector("#quality:not([hidden])")
    return page


def test_a_supervisor_scores_a_call_and_the_agent_reads_it(running_site: Site, browser):
    site = running_site.url
    sup, amy = token(site, "sup"), token(site, "amy")
    amy_id = httpx.get(f"{site}/api/agents/me", headers=amy).json()["user_id"]
    assert httpx.post(f"{site}/api/quality/scorecards", json=CARD,
                      headers=sup).status_code == 201  # fmt: skip
    services = running_site.app.state.services
    call_id = running_site.run(
        finished_call(services, "quality-1", agent=amy_id, talk=42, wrap_up=5, recording=True)
    )

    page = _login(browser, site, "sup")
    row = f"#calls tr[data-call='{call_id}']"
    page.wait_for_selector(row)
    assert page.locator(f"{row} td").nth(1).inner_text() == "amy"
    page.click(f"{row} button")
    # The recording plays from a blob fetched with the token (<audio> sends no header).
    page.wait_for_function(
        "document.getElementById('player').src.startsWith('blob:')"
        " && document.getElementById('player').duration > 0.9"
    )
    assert "Nothing was transcribed" in page.locator("#transcript").inner_text()
    assert page.locator("#criteria tbody tr").count() == 3
    assert page.locator("#score-preview").inner_text() == "100.0"
    page.fill("#criteria [name=points-solution]", "3")
    page.fill("#criteria [name=comment-solution]", "Offer the refund earlier")
    assert page.locator("#score-preview").inner_text() == "76.0"
    page.fill("#criteria [name=points-identity]", "0")
    assert page.locator("#score-preview").inner_text() == "0.0"
    assert page.locator("#critical-note").is_visible()
    page.fill("#criteria [name=points-identity]", "1")
    page.fill("#overall", "Friendly and clear")
    page.click("#score-form button")
    page.wait_for_function("document.getElementById('review-message').textContent.includes('76.0')")

    # The agent's figures and weekly trend: one week with a point at 76.
    page.wait_for_selector("#detail:not([hidden]) #trend svg circle")
    assert page.locator("#detail-name").inner_text() == "amy"
    assert page.locator("#detail [data-k=reviews] .v").inner_text() == "1"
    assert page.locator("#detail [data-k=average] .v").inner_text() == "76.0"
    assert page.locator("#detail [data-k=handled] .v").inner_text() == "1"
    assert page.locator("#detail [data-k=rating] .v").inner_text() == "–"
    assert page.locator("#trend svg circle").count() == 1
    assert "76.0" in (page.locator("#trend svg circle title").text_content() or "")
    assert page.locator(f"#agents tr[data-agent='{amy_id}'] td").nth(2).inner_text() == "76.0"
    page.wait_for_function(f"document.querySelector(\"{row} td:nth-child(6)\").textContent === '1'")
    page.click("button[data-lang=zh]")
    assert page.locator("#detail h3").first.inner_text() == "每周平均分"
    assert page.locator("#criteria tbody tr").first.locator("td").first.inner_text() == "问候"
    page.click("button[data-lang=en]")
    page.close()

    # amy sees her review (and no reviewer's tools), plays her call, acknowledges it.
    desk = _login(browser, site, "amy")
    desk.wait_for_selector("#detail:not([hidden]) #reviews li[data-review]")
    assert desk.locator("#reviewer").is_hidden()
    assert desk.locator("#login").is_hidden()
    review = desk.locator("#reviews li[data-review]")
    assert review.locator(".score").inner_text() == "76.0"
    assert "Friendly and clear" in review.inner_text()
    assert "Offer the refund earlier" in review.inner_text()
    review.locator("button", has_text="Play recording").click()
    desk.wait_for_function("document.getElementById('my-player').src.startsWith('blob:')")
    review.locator("button.acknowledge").click()
    desk.wait_for_selector("#reviews li[data-review] .acknowledged")
    desk.close()
    reviews = httpx.get(f"{site}/api/quality/reviews", headers=sup).json()["items"]
    assert reviews[0]["acknowledged_at"] is not None
