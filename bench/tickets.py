"""Tickets: create/update latency at a sustained rate, and SLA evaluation at 100k.

1. HTTP, through the real app (uvicorn on 127.0.0.1, a free port, SQLite, the SLA
   scheduler running with a calendar and a policy stored): `POST /api/tickets` at
   `--rate` requests/s for `--seconds`, then `PATCH /api/tickets/{id}` (priority) at
   the same rate. Against, in the same run and on the same kind of database (a SQLite
   file of the same schema, through the same `Database.write`): a bare FastAPI app
   whose endpoints do the single-row insert / update and nothing else (no auth, no
   checks, no history row, no event, no SLA). Open loop: request i is sent at
   start + i/rate whatever the earlier ones do, and its latency counts from that
   instant, so a server falling behind shows in p99 instead of slowing the load.
2. SLA evaluation: 100k open tickets (bench/sla.py's synthetic histories, stored as
   ticket rows, history rows and public replies) under a stored policy; timed through
   the scheduler: `reload()` (every history read back, replayed and its clocks stored:
   a start-up) and `tick()` one minute later (every open ticket refreshed, the
   changed clocks stored, due events emitted), median of 5 ticks.

    .venv/bin/python bench/tickets.py [--rate 200] [--seconds 20] [--tickets 100000]

Not a test: prints numbers, never fails on a timing. Every wait is bounded: servers
get 30 s to come up and 10 s to stop (then SIGKILL), a load phase `seconds` + 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import Connection, insert, update  # noqa: E402

from callcenter.auth.permissions import Principal  # noqa: E402
from callcenter.clock import FixedClock  # noqa: E402
from callcenter.config import Settings  # noqa: E402
from callcenter.db import Database  # noqa: E402
from callcenter.services import running_services  # noqa: E402
from callcenter.tickets.access import TICKETS  # noqa: E402
from callcenter.tickets.models import TicketComment, TicketEvent  # noqa: E402
from callcenter.tickets.sla import EventKind  # noqa: E402

PASSWORD = "bench-password-1234"
REQUEST_SECONDS = 20.0  # a request slower than this counts as an error, not a latency
CALENDAR = {
    "timezone": "Asia/Shanghai",
    "hours": {
        **{d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["09:00-12:00"],
    },
    "holidays": ["2026-05-01", "2026-06-19"],
}
POLICY = {
    "calendar": "support-cn",
    "default": {"first_response": 240, "next_response": 480, "resolution": 2400},
    "targets": [
        {"priority": "urgent", "first_response": 30, "next_response": 60, "resolution": 480},
        {"priority": "high", "first_response": 60, "next_response": 240, "resolution": 960},
    ],
    "on_breach": ["notify:supervisor"],
}


def settings_for(data_dir: Path, **extra: Any) -> Settings:
    return Settings(_env_file=None, env="test", data_dir=data_dir, **extra)  # type: ignore[call-arg]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- the servers


def bare_app(data_dir: Path) -> Any:
    """The floor: the same insert and update, on the same database, nothing else."""
    from fastapi import FastAPI

    db = Database(settings_for(data_dir).database)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await db.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/bare/tickets", status_code=201)
    async def create(body: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        values = {**body, "status": "new", "created_at": now, "updated_at": now}

        def store(conn: Connection) -> int:
            return int(
                conn.execute(insert(TICKETS).values(values).returning(TICKETS.c.id)).scalar_one()
            )

        return {"id": await db.write(store)}

    @app.patch("/bare/tickets/{ticket_id}")
    async def change(ticket_id: int, body: dict[str, Any]) -> dict[str, Any]:
        values = {**body, "updated_at": datetime.now(UTC)}

        def store(conn: Connection) -> None:
            conn.execute(update(TICKETS).where(TICKETS.c.id == ticket_id).values(values))

        await db.write(store)
        return {"id": ticket_id}

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(kind: str, data_dir: Path, port: int) -> None:
    import uvicorn

    from callcenter.api.app import create_app

    if kind.startswith("app"):
        if kind == "app-no-sla":  # the same app, its SLA scheduler never started
            from callcenter.tickets.sla_scheduler import SlaScheduler

            async def idle(self: SlaScheduler) -> None:
                return None

            SlaScheduler.start = idle  # type: ignore[method-assign]
        app = create_app(settings_for(data_dir), with_pbx=False, freeze_at_start=True)
    else:
        app = bare_app(data_dir)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@asynccontextmanager
async def server(kind: str, data_dir: Path) -> AsyncIterator[str]:
    port = free_port()
    args = ["--serve", kind, "--data-dir", str(data_dir), "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, *args, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(300):
                if proc.returncode is not None:
                    raise RuntimeError(f"{kind} server exited with {proc.returncode}")
                try:
                    if (await client.get("/api/health")).status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{kind} server did not come up in 30 s")
        yield base
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def prepare(data_dir: Path) -> tuple[int, int]:
    """Schema, a supervisor, a group and a customer: (group id, customer id)."""
    from callcenter.customers.fields import NewProfile
    from callcenter.tickets.service import TicketService

    async with running_services(settings_for(data_dir)) as services:
        system = Principal.operator("bench", kind="system")
        await services.auth.create_user(
            "boss", PASSWORD, "admin", actor=system, check_password=False
        )
        group = await TicketService(services.db, services.bus, services.clock).create_group(
            "support"
        )
        customer = await services.customers.create(NewProfile(name="Li Lei"))
        return int(group["id"]), int(customer["id"])


# ---------------------------------------------------------------------- the load


async def open_loop(
    send: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    client: httpx.AsyncClient,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    start = loop.time() + 0.2
    latencies: list[float] = []
    errors: list[str] = []

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        try:
            r = await asyncio.wait_for(send(client, i), REQUEST_SECONDS)
        except (httpx.HTTPError, TimeoutError) as exc:
            errors.append(repr(exc))
            return
        if r.status_code >= 300:
            errors.append(f"{r.status_code} {r.text[:80]}")
            return
        latencies.append(loop.time() - due)

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_SECONDS + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = loop.time() - start
    latencies.sort()
    return {
        "sent": count,
        "done": len(latencies),  # answered 2xx within REQUEST_SECONDS
        "errors": len(errors) + len(pending),
        "first_error": errors[0] if errors else "",
        "rate": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50": _pct(latencies, 50),
        "p99": _pct(latencies, 99),
    }


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000


class Load:
    """Creates, then changes, tickets on one server: the real app or the bare one."""

    def __init__(self, kind: str, group: int, customer: int) -> None:
        self.prefix = "/bare" if kind == "bare" else "/api"
        self.headers: dict[str, str] = {}
        self.ids: list[int] = []
        self.ticket = {"subject": "Router keeps rebooting", "requester_id": customer,
                       "group_id": group, "type": "fault", "priority": "normal",
                       "source": "api"}  # fmt: skip

    async def login(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/auth/login", json={"username": "boss", "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for path, body in (("/api/sla/calendars/support-cn", CALENDAR),
                           ("/api/sla/policies/standard", POLICY)):  # fmt: skip
            r = await client.put(path, json=body, headers=self.headers)
            assert r.is_success, r.text

    async def create(self, client: httpx.AsyncClient, i: int) -> httpx.Response:
        r = await client.post(f"{self.prefix}/tickets", json=self.ticket, headers=self.headers)
        if r.status_code == 201:
            self.ids.append(int(r.json()["id"]))
        return r

    async def change(self, client: httpx.AsyncClient, i: int) -> httpx.Response:
        ids = self.ids
        body = {"priority": ("high", "normal")[i // len(ids) % 2]}  # every PATCH a change
        return await client.patch(
            f"{self.prefix}/tickets/{ids[i % len(ids)]}", json=body, headers=self.headers
        )


async def idle(base: str) -> None:
    """Between phases: wait (at most 30 s) until the server answers at once again, so
    one phase's backlog does not count in the next."""
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_SECONDS) as client:
        for _ in range(60):
            started = time.perf_counter()
            await client.get("/api/health")
            if time.perf_counter() - started < 0.02:
                return
            await asyncio.sleep(0.5)


async def measure(kind: str, data_dir: Path, rate: float, seconds: float) -> list[dict[str, Any]]:
    # A pool like a reverse proxy's: requests beyond it wait in the client (and count).
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    group, customer = await prepare(data_dir)
    load = Load(kind, group, customer)
    async with server(kind, data_dir) as base:

        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=base, limits=limits, timeout=REQUEST_SECONDS)

        async with client() as c:
            if kind != "bare":
                await load.login(c)
            await open_loop(load.create, c, rate, 2.0)  # warm-up
        await idle(base)
        async with client() as c:
            created = await open_loop(load.create, c, rate, seconds)
        await idle(base)
        async with client() as c:
            changed = await open_loop(load.change, c, rate, seconds)
    return [created, changed]


async def http_phase(rate: float, seconds: float, kinds: list[str]) -> None:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tickets-") as tmp:
        for kind in kinds:
            created, changed = await measure(kind, Path(tmp) / kind, rate, seconds)
            results[f"{kind} create"], results[f"{kind} update"] = created, changed
    print(f"HTTP, open loop at {rate:g} requests/s for {seconds:g} s each, SQLite:")
    print(f"  {'':<20}{'done':>7}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name, r in results.items():
        print(f"  {name:<20}{r['done']:>7}{r['errors']:>8}{r['rate']:>8.1f}"
              f"{r['p50']:>9.2f}{r['p99']:>9.2f}  {r['first_error']}")  # fmt: skip
    for op in ("create", "update"):
        bare = results.get(f"bare {op}")
        for kind in (k for k in kinds if k != "bare"):
            app = results[f"{kind} {op}"]
            if bare is not None:
                print(f"  {op}: {kind}/bare p50 x{app['p50'] / bare['p50']:.1f}, "
                      f"p99 x{app['p99'] / bare['p99']:.1f}")  # fmt: skip


# ---------------------------------------------------------------------- SLA at 100k


async def sla_phase(count: int) -> None:
    import sla as engine_bench  # bench/sla.py: its synthetic histories and `now`

    histories = engine_bench.synthetic(count)
    now = engine_bench.NOW.astimezone(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-sla-") as tmp:
        data_dir = Path(tmp)
        group, customer = await prepare(data_dir)
        settings = settings_for(data_dir, sla_tick_seconds=3600)
        async with running_services(settings, clock=FixedClock(now)) as services:
            from callcenter.tickets.sla_store import SlaStore

            scheduler = services.sla
            assert scheduler is not None
            await scheduler.start()  # the server's lifespan does this; here by hand, empty
            await scheduler.settle()
            store = SlaStore(services.db, services.clock)
            await store.put_calendar("support-cn", CALENDAR)
            await store.put_policy("standard", POLICY)
            started = time.perf_counter()
            events = await services.db.write(lambda conn: _load(conn, histories, group, customer))
            print(f"SLA: {count} open tickets, {events} history rows loaded in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            started, cpu = time.perf_counter(), time.process_time()
            await scheduler.reload()
            print(f"  reload (read, replay, store every clock): "
                  f"{time.perf_counter() - started:.2f} s, {time.process_time() - cpu:.2f} s CPU, "
                  f"{scheduler.tracked} tracked")  # fmt: skip
            walls, cpus, changed = [], [], []
            for minute in range(1, 6):
                services.clock.set(now + timedelta(minutes=minute))  # type: ignore[attr-defined]
                started, cpu = time.perf_counter(), time.process_time()
                changed.append(await scheduler.tick())
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
            print(f"  tick (refresh all, store changes, emit): median "
                  f"{statistics.median(walls):.3f} s, {statistics.median(cpus):.3f} s CPU "
                  f"(min {min(walls):.3f}, max {max(walls):.3f}); tickets changed per tick: "
                  f"{changed}")  # fmt: skip
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def _load(conn: Connection, histories: list[Any], group: int, customer: int) -> int:
    """Tickets, their history rows and public replies, as the service would have
    written them (customer replies need the mail helper's column: left out)."""
    changes = TicketEvent.__table__  # type: ignore[attr-defined]
    comments = TicketComment.__table__  # type: ignore[attr-defined]
    tickets, rows, replies = [], [], []
    first_comment = 1
    for i, events in enumerate(histories, start=1):
        created = events[0]
        status = "new"
        priority = created.priority
        at = created.at.astimezone(UTC)
        rows.append(_row(i, at, "status", None, "new"))
        for event in events[1:]:
            at = event.at.astimezone(UTC)
            if event.kind == EventKind.AGENT_REPLY:
                replies.append({"id": first_comment, "ticket_id": i, "author_name": "bench",
                                "body": "ok", "public": True, "created_at": at})  # fmt: skip
                rows.append(_row(i, at, "comment", None, first_comment))
                first_comment += 1
            elif event.kind == EventKind.STATUS:
                rows.append(_row(i, at, "status", status, event.status.value))
                status = event.status.value
            elif event.kind == EventKind.PRIORITY:
                rows.append(_row(i, at, "priority", priority, event.priority))
                priority = event.priority
        at = created.at.astimezone(UTC)
        tickets.append({"id": i, "subject": f"T-{i}", "type": "fault", "priority": priority,
                        "status": status, "requester_id": customer, "group_id": group,
                        "source": "api", "created_at": at, "updated_at": at})  # fmt: skip
    conn.execute(insert(TICKETS), tickets)
    conn.execute(insert(comments), replies)
    conn.execute(insert(changes), rows)
    return len(rows)


def _row(ticket: int, at: datetime, field: str, old: Any, new: Any) -> dict[str, Any]:
    return {"ticket_id": ticket, "actor_name": "bench", "at": at, "field": field, "old": old,
            "new": new}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--skip", choices=("http", "sla"), default=None)
    parser.add_argument(
        "--servers", default="app,bare", help="app, app-no-sla (its SLA scheduler off), bare"
    )
    parser.add_argument("--serve", choices=("app", "app-no-sla", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir, args.port)
        return
    if args.skip != "http":
        asyncio.run(http_phase(args.rate, args.seconds, args.servers.split(",")))
    if args.skip != "sla":
        asyncio.run(sla_phase(args.tickets))


if __name__ == "__main__":
    main()
