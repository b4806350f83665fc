"""A real server and Debian's chromium (driven by Playwright), once per test module.

Module scope, not session: Playwright's sync API keeps its event loop running while
it is open, and the asyncio tests that follow would find it in their way.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from callcenter.api.app import create_app
from callcenter.clock import Clock
from callcenter.config import Settings
from tests.support.cli import clean_env, run_cli
from tests.support.controller import free_port

PASSWORD = "browser-test-password"
T = TypeVar("T")


@dataclass
class Site:
    """The running server: its URL, and its app and event loop for tests that reach the
    services themselves (e.g. to route a task where no telephony runs)."""

    url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)


def token(site: str, name: str) -> dict[str, str]:
    """Authorization headers of `name` (a seeded user) for API calls beside the page."""
    login = {"username": name, "password": PASSWORD}
    access = httpx.post(f"{site}/api/auth/login", json=login).json()["access_token"]
    return {"Authorization": f"Bearer {access}"}


def open_as(browser: Any, site: str, page_path: str, user: str, **options: Any) -> Any:
    """A new page of `page_path`, in English, logged in as `user`."""
    page = browser.new_page(**options)
    page.goto(f"{site}/{page_path}")
    page.click("button[data-lang=en]")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button")
    return page


@pytest.fixture(scope="module")
def site(running_site: Site) -> str:
    return running_site.url


@pytest.fixture(scope="module")
def site_clock() -> Clock | None:
    """The server's clock: the real one. A module that drives time (SLA clocks)
    overrides this fixture with a FixedClock."""
    return None


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    """Settings of the server besides the defaults: a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def running_site(
    tmp_path_factory: pytest.TempPathFactory,
    site_clock: Clock | None,
    site_settings: dict[str, Any],
) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("site")
    env = clean_env(CALLCENTER_DATA_DIR=str(data))
    for name, role in (("boss", "admin"), ("sup", "supervisor"), ("amy", "agent")):
        created = run_cli(env, "users", "create", name, "--role", role, "--password", PASSWORD)
        assert created.returncode == 0, created.stderr
    settings = Settings(_env_file=None, data_dir=data, http_port=free_port(), **site_settings)  # type: ignore[call-arg]
    app = create_app(settings, with_pbx=False, clock=site_clock)
    config = uvicorn.Config(app, port=settings.http_port, log_level="warning")
    server = uvicorn.Server(config)
    site = Site(settings.http_url, app)

    async def serve() -> None:
        site.loop = asyncio.get_running_loop()
        await server.serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not server.started:
        time.sleep(0.05)
    yield site
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
