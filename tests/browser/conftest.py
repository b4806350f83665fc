"""A real server and Debian's chromium (driven by Playwright), once per test module.

Module scope, not session: Playwright's sync API keeps its event loop running while
it is open, and the asyncio tests that follow would find it in their way.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator

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
    for name, role in (("boss", "admin"), ("sup", "supervisor"), ("amy", "agent")):
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
