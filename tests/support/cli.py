"""Run `callcenter` commands as a newcomer would: a child process with only the
environment the test gives it (none of the developer's CALLCENTER_* variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without CALLCENTER_* variables, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env.update(values)
    return env


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
