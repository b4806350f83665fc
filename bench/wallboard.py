"""Wallboard: domain event -> screen latency, 300 screens at 200 events/s, and a bare broadcast.

Everything runs as in production, over loopback, each server in a process of its own:

* a private redis-server (the event bus) and the real server (`callcenter serve --no-pbx`,
  SQLite in a temp dir, eight queues in a temp routing.yaml, --agents agents skilled for
  them, an admin created with the CLI, logged in over POST /api/auth/login);
* this process publishes queue visits (`queue.joined`, then `queue.left` answered,
  abandoned or overflowed) into the server's Redis stream with callcenter's `RedisBus`,
  paced at --rate, so the server's wallboard consumes them exactly as routing's own;
* a client process holds --clients websockets on `/ws/wallboard` (token as the
  `bearer.<token>` subprotocol, permessage-deflate offered as browsers do) and notes when
  each message arrives. Every event changes the `totals` tile, and `waiting + 2 x
  (offered + short_abandoned)` there is the number of events the floor has counted (a
  visit is one join and one leave; offered leaves out short abandons), so a message
  showing N proves events 1..N arrived: each event's latency is the first such message's
  arrival minus the event's publish time (one clock: CLOCK_MONOTONIC is system-wide).

Two baselines in the same run, the same events (same seed) from a Redis stream of their
own, to the same number of clients, measured the same way, served by a bare
`websockets.serve` process that reads the stream with the same `RedisBus`:

* per-event: each event sent to every client as it comes (events x clients messages);
* windowed: the events of each 50 ms window (the first at once, like the wallboard's own
  rule) sent as one message with a running count: the transport's share of the
  wallboard's latency, without the floor, the tiles and the per-screen queues.

Also printed: messages and bytes per client per second, and the CPU of each process and
of the rest of the machine (other jobs on a shared machine distort every figure: each
phase first waits up to --quiet-wait seconds for the machine to be idle).

    .venv/bin/python bench/wallboard.py [--clients 300] [--rate 200] [--seconds 20]
        [--agents 200] [--no-deflate] [--client-procs 1] [--phases wallboard,event,window]

Not a test: prints numbers, never fails on a timing. Needs redis-server.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import contextlib
import json
import os
import pickle
import random
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from callcenter.config import Settings  # noqa: E402
from callcenter.events import Event  # noqa: E402
from callcenter.events.redis import DEFAULT_STREAM, RedisBus  # noqa: E402
from tests.support.cli import run_cli  # noqa: E402
from tests.support.controller import settings_env  # noqa: E402
from tests.support.servers import free_port, start_redis, wait_for_port  # noqa: E402

QUEUES = [f"q{n}" for n in range(8)]
WINDOW = 0.05  # the wallboard's push window (monitoring/wallboard.py)
WARM_UP = 1.0  # seconds of events published first and not measured
CATCH_UP = 10.0  # after the last event, how long clients may take to see it
CLK_TCK = os.sysconf("SC_CLK_TCK")
SEQ = re.compile(rb'"seq":(\d+)')


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat): what others used shows."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


def wait_quiet(limit: float, most: float = 0.25) -> float:
    """Up to `limit` seconds for the machine to be nearly idle (under `most` of a core
    busy, our idle servers included): a shared machine's other jobs would be measured
    too. The load last seen, in cores."""
    deadline = time.monotonic() + limit
    while True:
        before = machine_busy()
        time.sleep(1.0)
        load = machine_busy() - before
        if load <= most or time.monotonic() >= deadline:
            return load


# ---- the events -------------------------------------------------------------------------


class Traffic:
    """Queue visits over eight queues: 3 to 12 callers waiting in each, FIFO; leaves are
    80 % answered, 15 % abandoned (short ones too), 5 % overflowed. Deterministic: every
    phase gets the same events, their waits in simulated time."""

    def __init__(self, rate: float, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.waiting: dict[str, deque[tuple[str, float]]] = {q: deque() for q in QUEUES}
        self.tasks = 0

    def event(self, seq: int) -> tuple[str, dict[str, Any]]:
        rng, now = self.rng, seq / self.rate
        queue = rng.choice(QUEUES)
        waiting = self.waiting[queue]
        common = {"queue": queue, "channel": "voice", "call_id": None, "seq": seq}
        if len(waiting) < 3 or (len(waiting) <= 12 and rng.random() < 0.5):
            self.tasks += 1
            task_id = f"task-{self.tasks}"
            waiting.append((task_id, now))
            return "queue.joined", {**common, "task_id": task_id}
        task_id, since = waiting.popleft()
        roll = rng.random()
        outcome = "answered" if roll < 0.8 else "abandoned" if roll < 0.95 else "overflowed"
        data = {"task_id": task_id, "outcome": outcome, "waited": round(now - since, 3),
                "agent_id": None, "position": None, "to": None}  # fmt: skip
        return "queue.left", {**common, **data}


async def publish(
    redis_url: str, stream: str, total: int, rate: float
) -> tuple[list[float], list[float]]:
    """Publish `total` events at `rate`/s; each one's send time and how late it left."""
    bus = RedisBus(redis_url, stream=stream)  # publish only: no reader started
    traffic = Traffic(rate)
    stamps: list[float] = []
    late: list[float] = []
    start = time.monotonic() + 0.05
    try:
        for seq in range(1, total + 1):
            type_, data = traffic.event(seq)
            due = start + (seq - 1) / rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            event = Event(type_, data)
            sent = time.monotonic()
            stamps.append(sent)
            late.append(sent - due)
            await bus.publish(event)
    finally:
        await bus.stop()
    return stamps, late


# ---- the screens (client process) -------------------------------------------------------


class Screen(asyncio.Protocol):
    """A minimal websocket client: handshake, frames, permessage-deflate, pong, and a
    note (arrival time, events seen) whenever a message shows more events than before."""

    def __init__(self, kind: str, port: int, path: str, token: str, deflate: bool) -> None:
        loop = asyncio.get_running_loop()
        self.kind = kind
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        protocol = f"Sec-WebSocket-Protocol: bearer.{token}\r\n" if token else ""
        if deflate:  # as browsers offer it
            protocol += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{protocol}\r\n"
        ).encode()
        self.transport: Any = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.first: asyncio.Future[None] = loop.create_future()
        self.buf = bytearray()
        self.upgraded = False
        self.inflater: Any = None
        self.fragments: list[bytes] = []
        self.compressed = False
        self.times = array.array("d")
        self.counts = array.array("q")
        self.base: int | None = None if kind == "wallboard" else 0
        self.seen = 0
        self.frames = 0
        self.bytes = 0
        self.lost = False
        self.target: int | None = None
        self.caught_up: asyncio.Future[None] = loop.create_future()

    def wait_for(self, total: int) -> None:
        """`caught_up` resolves once `total` events are seen (or the link is lost)."""
        self.target = total
        if self.seen >= total or self.lost:
            self._caught_up()

    def _caught_up(self) -> None:
        if not self.caught_up.done():
            self.caught_up.set_result(None)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._caught_up()
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.bytes += len(data)
        buf = self.buf
        buf += data
        if not self.upgraded and not self._handshake():
            return
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, length, head = buf[pos], buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            self._frame(b0, bytes(buf[pos + head : end]), now)
            pos = end
        del buf[:pos]

    def _handshake(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        if " 101 " not in head[0] + " ":
            self.opened.set_exception(ConnectionError(f"refused: {head[0]}"))
            self.transport.close()
            return False
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions" and "deflate" in value:
                self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.upgraded = True
        self.opened.set_result(None)
        return True

    def _frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x9:  # ping: pong with the same payload
            self._send(0xA, payload)
            return
        if opcode == 0x8:
            self.transport.close()
            return
        if opcode >= 0x8:
            return
        if opcode:
            self.fragments, self.compressed = [payload], bool(b0 & 0x40)
        else:
            self.fragments.append(payload)
        if not b0 & 0x80:
            return
        message = b"".join(self.fragments)
        if self.compressed:
            message = self.inflater.decompress(message + b"\x00\x00\xff\xff")
        self.frames += 1
        self._count(message, now)

    def _count(self, message: bytes, now: float) -> None:
        if self.kind == "event":  # one event a message: its number is enough
            match = SEQ.search(message)
            if match is None:
                return
            seen = int(match.group(1))
        else:
            body = json.loads(message)
            if self.kind == "window":
                seen = body["n"]
            else:
                totals = body.get("totals")
                if totals is None:
                    return
                seen = totals["waiting"] + 2 * (totals["offered"] + totals["short_abandoned"])
        if self.base is None:  # the wallboard's first snapshot: what was counted before
            self.base = seen
        seen -= self.base
        if not self.first.done():
            self.first.set_result(None)
        if seen > self.seen:
            self.seen = seen
            self.times.append(now)
            self.counts.append(seen)
            if self.target is not None and seen >= self.target:
                self._caught_up()

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame (masked, as clients must), e.g. a pong or a close."""
        mask = secrets.token_bytes(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self._send(0x8, (1000).to_bytes(2, "big"))
            self.transport.close()


async def run_clients(config: dict[str, Any]) -> None:
    """Open the screens, say `ready`, and on `stop N` wait (bounded) until every screen
    has seen N events, then write what each saw to config["out"]."""
    loop = asyncio.get_running_loop()
    screens = [
        Screen(config["kind"], config["port"], config["path"], config["token"], config["deflate"])
        for _ in range(config["count"])
    ]
    handshakes = asyncio.Semaphore(25)

    async def open_screen(screen: Screen) -> None:
        async with handshakes:
            await loop.create_connection(lambda: screen, "127.0.0.1", config["port"])
            await asyncio.wait_for(screen.opened, 30)

    await asyncio.gather(*(open_screen(s) for s in screens))
    if config["kind"] == "wallboard":  # the snapshot gives each screen its base count
        await asyncio.wait_for(asyncio.gather(*(s.first for s in screens)), 30)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    line = (await reader.readline()).decode().split()
    total = int(line[1]) if len(line) == 2 else 0
    for screen in screens:
        screen.wait_for(total)
    await asyncio.wait([s.caught_up for s in screens], timeout=CATCH_UP)
    results = [
        {
            "times": s.times,
            "counts": s.counts,
            "frames": s.frames,
            "bytes": s.bytes,
            "lost": s.lost,
            "deflate": s.inflater is not None,
        }
        for s in screens
    ]
    await asyncio.to_thread(Path(config["out"]).write_bytes, pickle.dumps(results))
    for screen in screens:
        screen.close()
    print("done", flush=True)
    await asyncio.sleep(0.2)


# ---- the bare broadcast (server process) ------------------------------------------------


async def run_bare(config: dict[str, Any]) -> None:
    """websockets.serve; every event of the stream to every client, or per window."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    loop = asyncio.get_running_loop()
    clients: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        clients.add(connection)
        try:
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    bus = RedisBus(config["redis"], stream=config["stream"])
    await bus.start()
    subscription = bus.subscribe("queue.", maxsize=100_000)
    batch: list[dict[str, Any]] = []
    count, last_push = 0, 0.0
    timer: asyncio.TimerHandle | None = None

    def push() -> None:
        nonlocal batch, last_push, timer
        timer, last_push = None, time.monotonic()
        if batch:
            body = {"type": "update", "n": count, "events": batch}
            batch = []
            broadcast(clients, json.dumps(body, separators=(",", ":"), ensure_ascii=False))

    async with serve(handler, "127.0.0.1", config["port"], ping_interval=20):
        print("ready", flush=True)
        async for event in subscription:
            count += 1
            if config["mode"] == "event":
                broadcast(clients, event.to_json())
                continue
            batch.append(event.data)
            if timer is None:
                wait = last_push + WINDOW - time.monotonic()
                if wait <= 0:
                    push()
                else:
                    timer = loop.call_later(wait, push)


# ---- the run (this process) -------------------------------------------------------------


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None, *, piped: bool = True):
    """A child in a session of its own (Ctrl-C reaches only us; we stop it); its stdout
    piped to us (`ready`, `done`), or with its stderr to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if piped else out,
            stderr=out,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


_said: dict[int, bytes] = {}  # what each child printed and was not read yet


def expect(proc: subprocess.Popen[bytes], word: str, timeout: float) -> None:
    """Wait for the line `word` on the child's stdout, or fail (bounded in time)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while True:
        buffered = _said.get(fd, b"")
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            _said[fd] = buffered
            if line.decode().strip() == word:
                return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no '{word}' from the child after {timeout}s")
        if select.select([fd], [], [], min(left, 1.0))[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"child exited ({proc.wait()}) before '{word}'")
            _said[fd] = buffered + chunk


async def create_agents(settings: Settings, count: int) -> None:
    """Agents with skills for one or two queues (offline: their tiles are drawn, and every
    queue tile counts its agents by state). Cheap password hashing: they never log in."""
    from callcenter.auth.passwords import FAST_INSECURE_PARAMS
    from callcenter.auth.service import AuthService
    from callcenter.services import running_services

    async with running_services(settings) as services:
        auth = AuthService(services.db, settings, services.clock,
                           password_params=FAST_INSECURE_PARAMS)  # fmt: skip
        for n in range(count):
            user = await auth.create_user(f"agent{n:04d}", secrets.token_urlsafe(12), "agent")
            assert user.id is not None
            skills = {QUEUES[n % len(QUEUES)]: 3, QUEUES[(3 * n + 1) % len(QUEUES)]: 1}
            await services.agents.set_profile(user.id, extension="", skills=skills,
                                              teams=[f"team{n % 10}"], voice_capacity=1,
                                              chat_capacity=0)  # fmt: skip


def setup_server(work: Path, redis_url: str, agents: int, procs: list[subprocess.Popen[bytes]]):
    """Create the admin, start `callcenter serve --no-pbx`, log in; (process, port, token)."""
    routing = work / "routing.yaml"
    routing.write_text("queues:\n" + "".join(f"  {q}:\n    skills: {{{q}: 1}}\n" for q in QUEUES))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=work / "data",
        http_port=free_port(),
        redis_url=redis_url,
        routing_file=routing,
        flows_dir=work / "no-flows",
    )
    env = settings_env(settings)
    password = secrets.token_urlsafe(12)
    created = run_cli(env, "users", "create", "bench", "--role", "admin", "--password", password)
    if created.returncode != 0:
        raise RuntimeError(f"users create failed: {created.stdout}{created.stderr}")
    asyncio.run(create_agents(settings, agents))
    log = work / "server.log"
    server = spawn([sys.executable, "-m", "callcenter", "serve", "--no-pbx"], log, env, piped=False)
    procs.append(server)
    wait_for_port(settings.http_port, 30, server)
    url = settings.http_url
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/api/health", timeout=2).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"server not healthy:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    reply = httpx.post(
        f"{url}/api/auth/login", json={"username": "bench", "password": password}, timeout=10
    )
    reply.raise_for_status()
    token = reply.json()["access_token"]
    board = httpx.get(f"{url}/api/wallboard", headers={"Authorization": f"Bearer {token}"})
    board.raise_for_status()
    floor = board.json()
    print(f"floor: {len(floor['queues'])} queues, {len(floor['agents'])} agents, "
          f"snapshot {len(board.content) / 1024:.0f} KiB")  # fmt: skip
    return server, settings.http_port, token


def run_phase(
    label: str,
    kind: str,
    port: int,
    path: str,
    token: str,
    stream: str,
    server: subprocess.Popen[bytes],
    redis_pid: int,
    args: argparse.Namespace,
    work: Path,
    procs: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    """Connect the clients, publish, collect; latencies and costs of one phase."""
    splits = [args.clients // args.client_procs + (i < args.clients % args.client_procs)
              for i in range(args.client_procs)]  # fmt: skip
    clients = []
    for i, count in enumerate(splits):
        config = {"kind": kind, "port": port, "path": path, "token": token, "count": count,
                  "out": str(work / f"{kind}-{i}.pickle"), "deflate": args.deflate}  # fmt: skip
        proc = spawn(
            [sys.executable, __file__, "_clients", json.dumps(config)], work / "clients.log"
        )
        procs.append(proc)
        clients.append((proc, config))
    for proc, _ in clients:
        expect(proc, "ready", 90)
    if args.quiet_wait > 0 and (load := wait_quiet(args.quiet_wait)) > 0.25:
        print(f"  the machine stays busy ({load:.2f} cores besides this bench): measuring anyway")
    pids = {"server": server.pid, "redis": redis_pid}
    pids |= {f"clients{i}": proc.pid for i, (proc, _) in enumerate(clients)}
    warm = int(WARM_UP * args.rate)
    total = warm + int(args.seconds * args.rate)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu_before["bench"], busy_before = sum(os.times()[:2]), machine_busy()
    started = time.monotonic()
    stamps, late = asyncio.run(publish(args.redis_url, stream, total, args.rate))
    published = time.monotonic()
    for proc, _ in clients:
        assert proc.stdin is not None
        proc.stdin.write(f"stop {total}\n".encode())
        proc.stdin.flush()
    for proc, _ in clients:
        expect(proc, "done", CATCH_UP + 30)
    # Sampled once the clients have caught up (or given up): the backlog's work counts.
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["bench"] = sum(os.times()[:2]) - cpu_before["bench"]
    cpu["others"] = machine_busy() - busy_before - sum(cpu.values())
    elapsed = time.monotonic() - started
    for proc, _ in clients:
        proc.wait(10)
    if os.environ.get("BENCH_KEEP"):  # the raw data, next to each client's pickle
        (work / f"{kind}-stamps.pickle").write_bytes(pickle.dumps(stamps))
    screens = []
    for _, config in clients:
        screens += pickle.loads(Path(config["out"]).read_bytes())
    latencies: list[float] = []
    missing = 0
    for screen in screens:
        seen = 0
        for at, count in zip(screen["times"], screen["counts"], strict=True):
            for seq in range(max(seen, warm) + 1, min(count, total) + 1):
                latencies.append((at - stamps[seq - 1]) * 1000)
            seen = count
        missing += total - max(seen, warm) if seen < total else 0
    duration = published - started
    return {
        "label": label,
        "latencies": latencies,
        "missing": missing,
        "expected": (total - warm) * len(screens),
        "msgs": sum(s["frames"] for s in screens) / len(screens) / duration,
        "kib": sum(s["bytes"] for s in screens) / len(screens) / duration / 1024,
        "cpu": {name: value / elapsed for name, value in cpu.items()},
        "rate": (total - 1) / (stamps[-1] - stamps[0]),
        "late99": percentile(late, 99) * 1000,
        "deflate": all(s["deflate"] for s in screens),
        "lost": sum(s["lost"] for s in screens),
    }


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.clients} clients, {args.rate:g} events/s for {args.seconds:g} s "
          f"(+{WARM_UP:g} s warm-up), latency publish -> client (ms)")  # fmt: skip
    head = f"  {'':<22} {'p50':>7} {'p99':>7} {'max':>7} {'missing':>8} {'msg/cl/s':>9}"
    print(head + f" {'KiB/cl/s':>9} {'server':>7} {'redis':>6} {'clients':>8} {'others':>7}")
    for r in results:
        lat = r["latencies"]
        clients = sum(v for k, v in r["cpu"].items() if k.startswith("clients"))
        print(
            f"  {r['label']:<22} {percentile(lat, 50):7.1f} {percentile(lat, 99):7.1f} "
            f"{max(lat, default=float('nan')):7.1f} {r['missing']:>8} {r['msgs']:9.1f} "
            f"{r['kib']:9.1f} {r['cpu']['server']:7.0%} {r['cpu']['redis']:6.0%} {clients:8.0%} "
            f"{r['cpu']['others']:7.0%}"
        )
    print("  (CPU: share of one core over the publishing and catch-up; clients: "
          f"{args.client_procs} process(es); others: the rest of the machine, this process "
          "excluded, should be near 0 %)")  # fmt: skip
    wall = results[0]
    for r in results:
        extra = "" if r["deflate"] else ", no permessage-deflate"
        lost = f", {r['lost']} connections lost" if r["lost"] else ""
        print(f"  {r['label']}: {len(r['latencies'])}/{r['expected']} deliveries measured, "
              f"published {r['rate']:.1f}/s, pacing p99 late {r['late99']:.1f} ms"
              f"{extra}{lost}")  # fmt: skip
    for r in results[1:]:
        p99 = percentile(r["latencies"], 99)
        ratio = percentile(wall["latencies"], 99) / p99 if p99 > 0 else float("nan")
        print(f"  wallboard p99 / {r['label']} p99: {ratio:.2f}x")
    print(f"  target: wallboard p99 <= 100 ms (got {percentile(wall['latencies'], 99):.1f} ms)"
          " and <= 2x the bare broadcast")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--agents", type=int, default=200, help="agents known to the floor")
    parser.add_argument("--no-deflate", dest="deflate", action="store_false",
                        help="clients offer no permessage-deflate (browsers do)")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds to wait before a phase for other jobs to end")  # fmt: skip
    parser.add_argument("--client-procs", type=int, default=1, help="processes holding clients")
    parser.add_argument("--phases", default="wallboard,event,window",
                        help="which of wallboard,event,window to run, in order")  # fmt: skip
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cleanup runs on SIGTERM too
    work = Path(tempfile.mkdtemp(prefix="callcenter-bench-wallboard-"))
    procs: list[subprocess.Popen[bytes]] = []
    redis = None
    try:
        redis = start_redis()
        assert redis.proc is not None
        args.redis_url = redis.url
        server, port, token = setup_server(work, redis.url, args.agents, procs)
        print(f"server pid {server.pid} on 127.0.0.1:{port}, redis pid {redis.proc.pid}")
        results = []
        for phase in args.phases.split(","):
            if phase == "wallboard":
                label, target = "wallboard", server
                params = (phase, port, "/ws/wallboard", token, DEFAULT_STREAM)
            else:
                label, bare_port, stream = f"bare {phase}", free_port(), f"bench:{phase}"
                config = {"redis": redis.url, "stream": stream, "port": bare_port, "mode": phase}
                command = [sys.executable, __file__, "_bare", json.dumps(config)]
                target = spawn(command, work / f"bare-{phase}.log")
                procs.append(target)
                expect(target, "ready", 30)
                params = (phase, bare_port, "/", "", stream)
            print(f"{label}: connecting {args.clients} clients, then {args.seconds:g} s …")
            results.append(run_phase(label, *params, target, redis.proc.pid, args, work, procs))
            if target is not server:
                stop(target)
        report(results, args)
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(Exception):
                stop(proc)
        if redis is not None:
            redis.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_clients":
        asyncio.run(run_clients(json.loads(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "_bare":
        asyncio.run(run_bare(json.loads(sys.argv[2])))
    else:
        try:
            main()
        except KeyboardInterrupt:  # everything started was stopped in main's `finally`
            sys.exit(130)
