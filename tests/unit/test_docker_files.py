"""docker/ is for production users; no engine runs here, but the compose file must parse."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("neither `docker compose` nor docker-compose: run scripts/bootstrap.sh test")
    return [legacy]


def test_compose_config_parses_with_app_asterisk_postgres_redis() -> None:
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"app", "asterisk", "postgres", "redis"} <= set(services)
    env = services["app"]["environment"]
    assert env["CALLCENTER_ENV"] == "production"
    assert env["CALLCENTER_DATABASE_URL"].startswith("postgresql://")
    assert env["CALLCENTER_REDIS_URL"].startswith("redis://")
