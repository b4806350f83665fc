"""Bad input to the commands a newcomer runs: one clear line that says what to do."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import clean_env, run_cli


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    values = clean_env(CALLCENTER_DATA_DIR=str(tmp_path / "data"), **env)
    return run_cli(values, *args, timeout=60, cwd=tmp_path)


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", CALLCENTER_HTTP_PORT="eighty")
    assert result.returncode == 2
    assert "CALLCENTER_HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_refuses_default_secrets(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", CALLCENTER_ENV="production")
    assert result.returncode == 2
    assert "CALLCENTER_SECRET_KEY" in result.stderr


def test_taken_http_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(tmp_path, "up", CALLCENTER_HTTP_PORT=str(port))
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "CALLCENTER_HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "callcenter.db").exists()  # nothing was set up


def test_unreachable_database_says_what_to_do(tmp_path: Path) -> None:
    url = f"postgresql://cc@127.0.0.1:{_refused_port()}/cc"
    result = _run(tmp_path, "serve", "--no-pbx", CALLCENTER_DATABASE_URL=url)
    assert result.returncode == 1
    assert "CALLCENTER_DATABASE_URL" in result.stderr and "start PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.redis
def test_unreachable_redis_says_what_to_do(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{_refused_port()}/0"
    result = _run(tmp_path, "serve", "--no-pbx", CALLCENTER_REDIS_URL=url)
    assert result.returncode == 1
    assert "CALLCENTER_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
