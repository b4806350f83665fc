"""`callcenter pbx ...`: install, start, stop and inspect the local Asterisk."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from callcenter.config import load_settings
from callcenter.pbx.sandbox import LocalPbx, PbxError

app = typer.Typer(no_args_is_help=True, help=__doc__)

T = TypeVar("T")


def _run(action: Callable[[LocalPbx], T], pbx: LocalPbx | None = None) -> T:
    """Build the PBX from settings and turn PbxError into one line on stderr, exit 1."""
    pbx = pbx or LocalPbx(load_settings())
    try:
        return action(pbx)
    except PbxError as exc:
        print(f"callcenter pbx: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


@app.command()
def install() -> None:
    """Install Asterisk once per machine (system binary, or a Debian root via mmdebstrap)."""
    print(_run(lambda pbx: pbx.install()))


@app.command()
def start() -> None:
    """Render the config and start Asterisk in the background; wait until fully booted."""
    pbx = LocalPbx(load_settings())
    started = _run(lambda p: p.start(), pbx)
    status = _run(lambda p: p.status(), pbx)
    verb = "started" if started else "already running"
    print(f"Asterisk {verb} (pid {status.pid}): " + _ports_line(status.ports))


@app.command()
def stop() -> None:
    """Stop Asterisk (graceful `core stop now`, then signals). Does nothing if stopped."""
    stopped = _run(lambda pbx: pbx.stop())
    print("Asterisk stopped" if stopped else "Asterisk was not running")


@app.command()
def status() -> None:
    """Running or not, version, ports, instance directory."""
    state = _run(lambda pbx: pbx.status())
    print(f"running: {'yes (pid ' + str(state.pid) + ')' if state.running else 'no'}")
    print(f"mode: {state.mode}")
    if state.version:
        print(f"version: {state.version}")
    print(f"instance: {state.instance_dir}")
    for name, value in state.ports.items():
        print(f"{name}: {value}")
    if not state.running:
        raise typer.Exit(3)


@app.command()
def cli(
    command: Annotated[str, typer.Argument(help="An Asterisk CLI command, quoted.")],
) -> None:
    """Run an Asterisk CLI command in this instance: `callcenter pbx cli "core show channels"`."""
    print(_run(lambda pbx: pbx.cli(command)), end="")


def _ports_line(ports: dict[str, str]) -> str:
    return ", ".join(f"{name} {value}" for name, value in ports.items())
