"""The knowledge-base page in a real browser: an admin imports the demo KB file, tries
a rephrased question and sees the right entry with the bot's verdict, writes an entry
with similar questions, meets a bad import file's row and column, and exports; an agent
reads and searches but gets no editing controls. Checks read back through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import open_as, token
from tests.support.kb import ENTRIES_FILE


def _open(browser: Any, site: str, user: str) -> Any:
    page = open_as(browser, site, "kb.html", user, accept_downloads=True)
    page.wait_for_selector("#kb:not([hidden])")
    return page


def _entries(site: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{site}/api/kb/entries", headers=token(site, "boss"))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_admin_imports_tries_a_question_and_edits_an_entry(site, browser, tmp_path):
    page = _open(browser, site, "boss")
    page.set_input_files("#import-file", str(ENTRIES_FILE))
    page.click("#import-go")
    page.wait_for_selector("#import-result.ok")
    assert "Imported 62 entries (62 new" in page.inner_text("#import-result")
    page.wait_for_selector("#entries tbody tr >> nth=61")
    assert len(_entries(site)) == 62
    assert "退款" in page.inner_text("#category-list")

    page.fill("#try-q", "退的款几天能到银行卡")
    page.click("#try-form button")
    page.wait_for_selector("#try-result .hit")
    assert page.locator("#try-result .hit-question").first.inner_text() == "退款多久到账？"
    assert page.inner_text("#try-result .verdict") == "The bot would answer"
    page.fill("#try-q", "tell me a joke")
    page.click("#try-form button")
    page.wait_for_selector("#try-result .verdict.no")

    page.click("#entry-new")
    page.fill("#entry-form [name=question]", "Do you sell gift cards?")
    page.fill("#entry-form [name=similar_questions]", "Buy a gift card\nGift voucher")
    page.fill("#entry-form [name=answer]", "Yes: **Shop > Gift cards**, from $10.")
    page.select_option("#entry-form [name=language]", "en")
    page.fill("#entry-form [name=tags]", "gift, shop")
    page.click("#entry-save")
    page.wait_for_selector("#entry-saved:has-text('Saved')")
    stored = [e for e in _entries(site) if e["question"] == "Do you sell gift cards?"]
    assert stored and stored[0]["similar_questions"] == ["Buy a gift card", "Gift voucher"]
    assert stored[0]["tags"] == ["gift", "shop"]
    page.fill("#try-q", "can i get a voucher as a present for my friend")
    page.click("#try-form button")
    first_hit = "document.querySelector('#try-result .hit-question')?.textContent"
    page.wait_for_function(f"{first_hit} === 'Do you sell gift cards?'")

    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,language\nQ1,A1,en\nQ2,A2,fr\n", encoding="utf-8")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-go")
    page.wait_for_selector("#import-result.error")
    assert "row 2, column language" in page.inner_text("#import-result")
    assert len(_entries(site)) == 63

    with page.expect_download() as download:
        page.click("button[data-export=md]")
    assert download.value.suggested_filename == "knowledge-base.md"
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## Do you sell gift cards?" in text


def test_an_agent_reads_and_searches_but_cannot_edit(site, browser):
    if not _entries(site):  # run alone
        r = httpx.post(f"{site}/api/kb/import", headers=token(site, "boss"),
                       files={"file": ("kb.md", ENTRIES_FILE.read_bytes())})  # fmt: skip
        assert r.status_code == 200, r.text
    page = _open(browser, site, "amy")
    assert page.locator("#transfer").is_hidden()
    assert page.locator("#categories").is_hidden()
    assert page.locator("#entry-new").is_hidden()
    page.fill("#try-q", "forgot my pasword cant log in")
    page.click("#try-form button")
    page.wait_for_selector("#try-result .hit")
    assert page.locator("#try-result .hit-question").first.inner_text() == (
        "How do I reset my password?")  # fmt: skip
    page.screenshot(path="/tmp/kb-agent.png", full_page=False)
    page.locator("#entries tbody tr").first.click()
    assert page.locator("#entry-form [name=question]").is_disabled()
    assert page.locator("#entry-save").is_hidden()
    r = httpx.post(f"{site}/api/kb/entries", headers=token(site, "amy"),
                   json={"language": "en", "question": "Q", "answer": "A"})  # fmt: skip
    assert r.status_code == 403
