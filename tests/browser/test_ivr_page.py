"""The IVR admin page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from callcenter.api.app import create_app
from callcenter.config import Settings
from tests.support.cli import clean_env, run_cli
from tests.support.controller import free_port

PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("site")
    env = clean_env(CALLCENTER_DATA_DIR=str(data))
    for name, role in (("boss", "admin"), ("sup", "supervisor")):
        created = run_cli(env, "users", "create", name, "--role", role, "--password", PASSWORD)
        assert created.returncode == 0, created.stderr
    settings = Settings(_env_file=None, data_dir=data, http_port=free_port())  # type: ignore[call-arg]
    config = uvicorn.Config(
        create_app(settings, with_pbx=False), port=settings.http_port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not server.started:
        time.sleep(0.05)
    yield settings.http_url
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: run scripts/bootstrap.sh test", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def _login(page, site: str, username: str) -> None:
    page.goto(f"{site}/ivr.html")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")


def test_admin_sees_flows_and_draws_one(site, browser):
    page = browser.new_page()
    _login(page, site, "boss")
    page.wait_for_selector("tr.flow[data-flow=main]")
    assert page.locator("tr.flow[data-flow=main] td").nth(1).inner_text() == "100"
    page.click("tr.flow[data-flow=main]")
    page.wait_for_selector("#graph svg")
    assert "order_number" in page.locator("#graph svg").text_content()
    page.click("button[data-lang=zh]")
    assert page.locator("th[data-i18n=numbers]").inner_text() == "号码"
    page.click("button[data-lang=en]")
    assert page.locator("th[data-i18n=numbers]").inner_text() == "Numbers"
    page.close()


def test_non_admin_is_told_and_sees_no_flows(site, browser):
    page = browser.new_page()
    _login(page, site, "sup")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert page.locator("#message").inner_text() == "Admins only"
    assert page.locator("#flows").is_hidden()
    assert httpx.get(f"{site}/api/ivr/flows").status_code == 401
    page.close()
