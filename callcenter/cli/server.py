"""`callcenter serve | up | down`: run the contact center, with or without its local PBX."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
import uvicorn

from callcenter.config import Settings, load_settings
from callcenter.pbx.render import DeskPhone

if TYPE_CHECKING:
    from callcenter.services import Services

DEMO_FILE = "demo-credentials.json"
DEMO_PHONES = (("1001", "agent1"), ("1002", "agent2"))
# What the demo agents can take: every queue of the shipped routing.yaml has someone.
DEMO_SKILLS = {
    "agent1": {"sales": 5, "support": 5, "vip": 1, "chat": 3},
    "agent2": {"support": 7, "overflow": 1, "zh": 5, "chat": 3},
}


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(up)
    app.command()(down)


def serve(
    no_pbx: Annotated[bool, typer.Option(help="Run without connecting to Asterisk.")] = False,
) -> None:
    """Run the server against an Asterisk that is already running (production)."""
    settings = load_settings()
    _check_http_port(settings)
    asyncio.run(_migrate(settings))
    _serve(settings, with_pbx=not no_pbx)


def up(
    detach: Annotated[bool, typer.Option(help="Run in the background; stop with `down`.")] = False,
) -> None:
    """Install what is missing, start Asterisk and the server with demo users, until Ctrl-C."""
    settings = load_settings()
    if detach:
        _up_detached(settings)
        return
    from callcenter.pbx.sandbox import LocalPbx

    _check_http_port(settings)
    # The database first: a bad URL must fail before anything is installed or started.
    asyncio.run(_migrate(settings))
    pbx = LocalPbx(settings)
    typer.echo(pbx.install())
    phones = demo_desk_phones(pbx.desk_phones())
    started_pbx = not pbx.is_running()
    if started_pbx:
        typer.echo("starting Asterisk …")
        pbx.start(desk_phones=phones)
    pid_file = _pid_file(settings)
    # uvicorn shuts down on SIGTERM (from `down`) and then re-raises it with the handler
    # found at start: make that an exit that runs the `finally` below and stops Asterisk.
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        demo = asyncio.run(_prepare(settings))
        _print_welcome(settings, demo, phones)
        pid_file.write_text(str(os.getpid()))
        _serve(settings, with_pbx=True)
    finally:
        pid_file.unlink(missing_ok=True)
        if started_pbx:
            typer.echo("stopping Asterisk …")
            pbx.stop()


def down() -> None:
    """Stop what `callcenter up --detach` started (the server, then its Asterisk)."""
    settings = load_settings()
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        typer.echo("callcenter is not running (no pid file)")
        return
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        typer.echo("callcenter was not running (stale pid file removed)")
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    typer.echo("callcenter stopped")


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


class PortInUse(Exception):
    """The HTTP port is taken; the message names the setting that moves it."""


def _check_http_port(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.http_host, settings.http_port))
        except OSError as exc:
            raise PortInUse(
                f"cannot listen on {settings.http_host}:{settings.http_port} ({exc.strerror}): "
                "stop what uses it (`callcenter down`?) or set CALLCENTER_HTTP_PORT"
            ) from None


async def _migrate(settings: Settings) -> None:
    from callcenter.services import running_services

    async with running_services(settings):
        pass


class _CalmServer(uvicorn.Server):
    """uvicorn, waking once a second instead of ten times, and at once on a signal.

    Its main loop polls for shutdown every 0.1 s; in a VM a wake-up from idle costs
    about 0.1 ms of CPU, which for an idle server is most of its CPU, and under load a
    noticeable share of the controller's (bench/ivr.py).
    """

    _exit_requested: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._exit_requested = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0  # on_tick refreshes the Date header when counter % 10 == 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._exit_requested.wait()
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._exit_requested is not None:
            self._loop.call_soon_threadsafe(self._exit_requested.set)


async def _demo_profiles(services: Services) -> None:
    """Desk phone and skills for the demo agents, unless an admin has set them already."""
    for extension, username in DEMO_PHONES:
        user = await services.auth.get_user_by_username(username)
        assert user.id is not None
        agent = await services.agents.agent(user.id)
        if agent.extension or agent.profile.skills:
            continue
        await services.agents.set_profile(
            user.id,
            extension=extension,
            skills=DEMO_SKILLS[username],
            teams=["demo"],
            voice_capacity=1,
            chat_capacity=3,
        )


def _serve(settings: Settings, *, with_pbx: bool) -> None:
    from callcenter.api.app import create_app

    app = create_app(settings, with_pbx=with_pbx, freeze_at_start=True)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        access_log=False,
        log_config=None,  # our logging (cli.main), whose filter redacts tokens in URLs
        ws_ping_interval=20,
        proxy_headers=False,
    )
    _CalmServer(config).run()


async def _prepare(settings: Settings) -> list[dict[str, object]]:
    """Migrate the database and make sure the demo users exist; remember their passwords."""
    from callcenter.services import running_services

    async with running_services(settings) as services:
        created = await services.auth.ensure_demo_users()
        await _demo_profiles(services)
    path = settings.data_dir / DEMO_FILE
    known: dict[str, dict[str, object]] = {}
    if path.exists():
        known = {d["username"]: d for d in json.loads(path.read_text())}
    for user in created:
        # A password from the environment is the admin's to know: never echo it.
        password = user.password if user.generated else None
        entry: dict[str, object] = {
            "username": user.username,
            "role": user.role,
            "password": password,
        }
        if password is not None or user.username not in known:
            known[user.username] = entry
    path.touch(mode=0o600)
    path.write_text(json.dumps(list(known.values()), indent=2))
    return list(known.values())


def demo_desk_phones(existing: list[DeskPhone]) -> list[DeskPhone]:
    """A SIP desk phone per demo agent (1001, 1002), so a softphone can join the demo.

    Phones configured before (by an earlier `up` or an admin) are kept as they are.
    """
    phones = list(existing)
    taken = {p.extension for p in phones}
    for extension, agent in DEMO_PHONES:
        if extension not in taken:
            phones.append(DeskPhone(extension, secrets.token_urlsafe(9), agent))
    return phones


def _print_welcome(
    settings: Settings,
    demo: list[dict[str, object]],
    phones: list[DeskPhone] | None = None,
    *,
    detached: bool = False,
) -> None:
    url = settings.http_url
    typer.echo("")
    typer.echo(f"  Call center    {url}/")
    typer.echo(f"  Agent desktop  {url}/agent.html")
    typer.echo(f"  Wallboard      {url}/wallboard.html   (supervisors)")
    typer.echo(f"  Reports        {url}/reports.html")
    typer.echo(f"  REST API docs  {url}/api/docs")
    typer.echo(f"  Health         {url}/api/health")
    typer.echo(f"  Events         ws://{settings.http_host}:{settings.http_port}/ws/events")
    typer.echo(f"  SIP (desk phones, trunks)  udp {settings.sip_bind}:{settings.sip_port}")
    typer.echo("")
    typer.echo("  Demo users (role: username / password):")
    for user in demo:
        password = user["password"] or "(as set before, or by CALLCENTER_<ROLE>_PASSWORD)"
        typer.echo(f"    {user['role']:<11} {user['username']} / {password}")
    if phones:
        typer.echo("")
        typer.echo(f"  Desk phones (SIP over udp to {settings.sip_bind}:{settings.sip_port}):")
        for phone in phones:
            typer.echo(f"    {phone.extension} / {phone.password}  ({phone.name})")
    typer.echo("")
    typer.echo(f"  Try a call:   {_command()} call 100 --dtmf 123")
    typer.echo(f"  Stop:         {f'{_command()} down' if detached else 'Ctrl-C'}")
    typer.echo("")


def _up_detached(settings: Settings) -> None:
    log_path = settings.data_dir / "callcenter.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if _pid_file(settings).exists() and _alive(int(_pid_file(settings).read_text())):
        typer.echo(f"callcenter is already running: {settings.http_url}/")
        return
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callcenter", "up"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.pbx_boot_timeout + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            typer.echo(f"callcenter failed to start; see {log_path}:", err=True)
            typer.echo(_tail(log_path), err=True)
            raise typer.Exit(1)
        if _healthy(settings):
            break
        time.sleep(0.3)
    demo = json.loads((settings.data_dir / DEMO_FILE).read_text())
    from callcenter.pbx.sandbox import LocalPbx

    _print_welcome(settings, demo, LocalPbx(settings).desk_phones(), detached=True)
    typer.echo(f"  Running in the background (pid {proc.pid}, log {log_path})")


def _command() -> str:
    """How to call this CLI from here: the venv's script is usually not on PATH."""
    script = Path(sys.executable).parent / "callcenter"
    if shutil.which("callcenter") == str(script) or not script.exists():
        return "callcenter"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _healthy(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.http_url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _pid_file(settings: Settings) -> Path:
    return settings.data_dir / "callcenter.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
