"""Web chat: 2,000 visitor websockets on one server process, messages at 500/s in total.

Everything over loopback, each server in a process of its own:

* the real server (`callcenter serve --no-pbx`, SQLite in a temp dir, a chat queue in a
  temp routing.yaml, --agents agents with room for all chats, logged in over the API);
* this process holds --visitors websockets on `/ws/chat` (hello, then a first message
  that opens a conversation), and the agents' `/ws/events` sockets; each agent accepts
  the chats offered to it over REST, as the agent page does;
* then messages go out at --rate in total, each from a random visitor, for --seconds.

Measured:
* ack round trip: the visitor sends a `message` frame -> the server's `ack` with its seq
  (stored in the database, seq taken, published);
* delivery to the agent: the same send -> the `chat.message` event on the agent's
  `/ws/events` (ids only: the agent page then fetches the text);
* memory per connection: the server's RSS after the visitors connected (hello done, no
  conversation yet) minus before, / N; and after the conversations opened.

Baseline in the same run: a bare websocket endpoint on the same stack (uvicorn +
Starlette, in a process of its own) that acks each message with a counter, the same
visitors, rate and measurement: the ratio is what the chat itself costs.

    .venv/bin/python bench/chat.py [--visitors 2000] [--rate 500] [--seconds 20] [--agents 100]

Not a test: prints numbers, never fails on a timing. Raises its open-files limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from callcenter.config import Settings  # noqa: E402
from tests.support.controller import ServerProcess, free_port  # noqa: E402

ROUTING = """queues:
  chat:
    channel: chat
    skills: {chat: 1}
    ring_timeout: 60
    wrap_up: 0
"""


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- the baseline server: a bare websocket that acks -------------------------------------


def baseline_app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        seq = 0
        try:
            while True:
                frame = json.loads(await websocket.receive_text())
                if frame.get("type") == "hello":
                    await websocket.send_text(json.dumps({"type": "welcome"}))
                    continue
                seq += 1
                await websocket.send_text(json.dumps(
                    {"type": "ack", "client_id": frame.get("client_id"), "seq": seq}))  # fmt: skip
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute("/ws/chat", echo)])


def serve_baseline(port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_level="warning")


# ---- visitors and agents -----------------------------------------------------------------


class Run:
    """Send times by client id; ack and agent-delivery latencies (seconds)."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.by_seq: dict[tuple[int, int], float] = {}  # (conversation, seq) -> sent at
        self.early: dict[tuple[int, int], float] = {}  # agent saw it before the ack came
        self.acks: list[float] = []
        self.deliveries: list[float] = []
        self.measuring = False
        self.progress = asyncio.Event()  # set on every ack and delivery
        self.accepted = 0
        self.expected = 0
        self.all_accepted = asyncio.Event()

    def accept(self) -> None:
        self.accepted += 1
        if self.accepted >= self.expected:
            self.all_accepted.set()

    def acked(self, client_id: str, conversation: int, seq: int) -> None:
        self.progress.set()
        sent = self.sent.pop(client_id, None)
        if sent is None:
            return
        now = time.monotonic()
        if self.measuring:
            self.acks.append(now - sent)
        key = (conversation, seq)
        if key in self.early:
            if self.measuring:
                self.deliveries.append(self.early.pop(key) - sent)
        else:
            self.by_seq[key] = sent

    def delivered(self, conversation: int, seq: int) -> None:
        self.progress.set()
        now = time.monotonic()
        sent = self.by_seq.pop((conversation, seq), None)
        if sent is None:
            self.early[(conversation, seq)] = now
        elif self.measuring:
            self.deliveries.append(now - sent)


class Visitor:
    def __init__(self, ws: ClientConnection, run: Run) -> None:
        self.ws = ws
        self.run = run
        self.conversation = 0
        self.opened = asyncio.Event()
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame.get("type") == "ack":
                self.conversation = frame.get("conversation_id") or 0
                self.run.acked(frame["client_id"], self.conversation, frame["seq"])
                self.opened.set()

    async def say(self, body: str) -> None:
        client_id = secrets.token_hex(6)
        self.run.sent[client_id] = time.monotonic()
        await self.ws.send(json.dumps({"type": "message", "body": body, "client_id": client_id}))


async def open_visitors(port: int, n: int, run: Run) -> list[Visitor]:
    async def one(i: int) -> Visitor:
        ws = await connect(f"ws://127.0.0.1:{port}/ws/chat", max_size=None, compression=None,
                           open_timeout=60, ping_interval=None)  # fmt: skip
        await ws.send(json.dumps({"type": "hello", "site": "bench",
                                  "page": {"url": f"https://shop.example/p/{i}"}}))  # fmt: skip
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        return Visitor(ws, run)

    visitors: list[Visitor] = []
    for start in range(0, n, 200):  # in waves: a SYN flood would only measure the backlog
        visitors += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 200))))
    return visitors


async def agent_loop(url: str, port: int, token: str, run: Run) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http,
        connect(f"ws://127.0.0.1:{port}/ws/events?types=chat.&token={token}",
                compression=None, ping_interval=None, max_size=None) as ws,
    ):  # fmt: skip
        async for raw in ws:
            event = json.loads(raw)
            data = event.get("data", {})
            if event["type"] == "chat.offered":
                r = await http.post(f"/api/chats/{data['conversation_id']}/accept")
                if r.status_code == 200:
                    run.accept()
            elif event["type"] == "chat.message" and data.get("sender") == "visitor":
                run.delivered(data["conversation_id"], data["seq"])


async def load(visitors: list[Visitor], run: Run, rate: float, seconds: float) -> int:
    """Messages at `rate` per second in total, from random visitors; paced on a schedule
    (a late tick sends what is due, so the rate holds under load)."""
    rng = random.Random(7)
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            await rng.choice(visitors).say(f"message {sent}")
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.monotonic() - start)))
    return sent


async def settle(run: Run, limit: float = 15.0) -> None:
    """Until every message sent was acked and delivered, or `limit` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while run.sent or run.by_seq:
                run.progress.clear()
                await run.progress.wait()


async def close_all(visitors: list[Visitor]) -> None:
    for v in visitors:
        v.reader.cancel()
    await asyncio.gather(*(v.ws.close() for v in visitors), return_exceptions=True)


# ---- the phases ----------------------------------------------------------------------------


async def chat_phase(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    routing = work / "routing.yaml"
    routing.write_text(ROUTING)
    # Visitors straight to agents (no bot): what is measured is people's chat.
    settings = Settings(_env_file=None, env="test", data_dir=work / "data",  # type: ignore[call-arg]
                        http_port=free_port(), routing_file=routing,
                        flows_dir=work / "no-flows", chat_bot=False)  # fmt: skip
    password = secrets.token_urlsafe(12)
    server = ServerProcess(settings, work / "server.log")
    server.start = lambda timeout=30: _start_no_pbx(server, timeout, args.server_gc)  # type: ignore[method-assign]
    await create_users(settings, args.agents, password)
    url = server.url
    per_agent = -(-args.visitors // args.agents) + 1
    try:
        server.start(60)  # inside the try: a server that never became healthy is stopped too
        assert server.proc is not None
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def login(name: str) -> str:
                r = await http.post(
                    "/api/auth/login", json={"username": name, "password": password}
                )
                r.raise_for_status()
                return str(r.json()["access_token"])

            boss = {"Authorization": f"Bearer {await login('boss')}"}
            tokens = []
            for n in range(args.agents):
                token = await login(f"agent{n:03d}")
                headers = {"Authorization": f"Bearer {token}"}
                me = (await http.get("/api/agents/me", headers=headers)).json()
                profile = {"skills": {"chat": 1}, "chat_capacity": min(20, per_agent)}
                r = await http.put(f"/api/agents/{me['user_id']}/profile", headers=boss,
                                   json=profile)  # fmt: skip
                r.raise_for_status()
                (await http.put("/api/agents/me/state", json={"state": "available"},
                                headers=headers)).raise_for_status()  # fmt: skip
                tokens.append(token)
        run = Run()
        run.expected = min(args.visitors, args.agents * min(20, per_agent))
        agents = [asyncio.create_task(agent_loop(url, settings.http_port, t, run))
                  for t in tokens]  # fmt: skip
        await asyncio.sleep(0.5)
        before = rss_kib(server.proc.pid)
        t0 = time.monotonic()
        visitors = await open_visitors(settings.http_port, args.visitors, run)
        connect_s = time.monotonic() - t0
        await asyncio.sleep(1.0)
        connected = rss_kib(server.proc.pid)
        t0 = time.monotonic()
        for start in range(0, len(visitors), 100):
            wave = visitors[start : start + 100]
            for v in wave:
                await v.say("hello")
            await asyncio.gather(*(asyncio.wait_for(v.opened.wait(), 60) for v in wave))
        open_s = time.monotonic() - t0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.all_accepted.wait(), 120)
        await settle(run)
        opened = rss_kib(server.proc.pid)
        run.early.clear()
        run.measuring = True
        cpu0 = _cpu(server.proc.pid)
        sent = await load(visitors, run, args.rate, args.seconds)
        cpu = _cpu(server.proc.pid) - cpu0
        await settle(run)
        result = {
            "name": "chat", "sent": sent, "acks": run.acks, "deliveries": run.deliveries,
            "rss_per_conn": (connected - before) / args.visitors,
            "rss_per_chat": (opened - before) / args.visitors, "accepted": run.accepted,
            "connect_s": connect_s, "open_s": open_s, "cpu": cpu / args.seconds,
            "rss_mib": opened / 1024,
        }  # fmt: skip
        await close_all(visitors)
        for task in agents:
            task.cancel()
        await asyncio.gather(*agents, return_exceptions=True)
        return result
    finally:
        server.stop()


async def create_users(settings: Settings, agents: int, password: str) -> None:
    """The admin and the agents, before the server starts; cheap password hashing (a
    CLI process per user would take minutes)."""
    from callcenter.auth.passwords import FAST_INSECURE_PARAMS
    from callcenter.auth.service import AuthService
    from callcenter.services import running_services

    async with running_services(settings) as services:
        auth = AuthService(services.db, settings, services.clock,
                           password_params=FAST_INSECURE_PARAMS)  # fmt: skip
        await auth.create_user("boss", password, "admin", check_password=False)
        for n in range(agents):
            await auth.create_user(f"agent{n:03d}", password, "agent", check_password=False)


# The server with its garbage collector off (`--server-gc off`): an experiment, to see
# how much of the latency tail full collections make.
NO_GC = (
    "import gc, runpy, sys; gc.disable(); sys.argv = ['callcenter', 'serve', '--no-pbx']; "
    "runpy.run_module('callcenter', run_name='__main__')"
)


def _start_no_pbx(server: ServerProcess, timeout: float, gc_mode: str = "on") -> None:
    """`callcenter serve --no-pbx`: no Asterisk in this bench."""
    command = [sys.executable, "-m", "callcenter", "serve", "--no-pbx"]
    if gc_mode == "off":
        command = [sys.executable, "-c", NO_GC]
    with server.log_path.open("ab") as log:
        server.proc = subprocess.Popen(
            command, env=server.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    server.wait_healthy(timeout)


def _cpu(pid: int) -> float:
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def baseline_phase(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-baseline", str(port)
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                async with connect(f"ws://127.0.0.1:{port}/ws/chat"):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        run = Run()
        await asyncio.sleep(0.5)
        before = rss_kib(proc.pid)
        visitors = await open_visitors(port, args.visitors, run)
        await asyncio.sleep(1.0)
        connected = rss_kib(proc.pid)
        run.measuring = True
        cpu0 = _cpu(proc.pid)
        sent = await load(visitors, run, args.rate, args.seconds)
        cpu = _cpu(proc.pid) - cpu0
        await settle(run)
        await close_all(visitors)
        per_conn = (connected - before) / args.visitors
        return {"name": "baseline", "sent": sent, "acks": run.acks, "deliveries": [],
                "rss_per_conn": per_conn, "cpu": cpu / args.seconds}  # fmt: skip
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.visitors} visitors, {args.rate:.0f} messages/s for {args.seconds:.0f} s")
    print(f"{'':10} {'sent':>6} {'acked':>6} {'ack p50':>8} {'ack p99':>8} {'agent p50':>9} "
          f"{'agent p99':>9} {'KiB/conn':>8} {'server CPU':>10}")  # fmt: skip
    for r in results:
        acks, dl = [x * 1000 for x in r["acks"]], [x * 1000 for x in r["deliveries"]]
        print(f"{r['name']:10} {r['sent']:>6} {len(acks):>6} {percentile(acks, 50):>6.1f}ms "
              f"{percentile(acks, 99):>6.1f}ms {percentile(dl, 50):>7.1f}ms "
              f"{percentile(dl, 99):>7.1f}ms {r['rss_per_conn']:>8.1f} "
              f"{r['cpu']:>9.2f}c")  # fmt: skip
    chat = next((r for r in results if r["name"] == "chat"), None)
    base = next((r for r in results if r["name"] == "baseline"), None)
    if chat:
        print(f"chat: connect {chat['connect_s']:.1f} s, open {args.visitors} conversations "
              f"{chat['open_s']:.1f} s, {chat['accepted']} accepted by agents, "
              f"RSS {chat['rss_mib']:.0f} MiB, "
              f"{chat['rss_per_chat']:.1f} KiB per open chat")  # fmt: skip
    if chat and base:
        ratio = percentile(chat["acks"], 99) / max(percentile(base["acks"], 99), 1e-9)
        memory = chat["rss_per_conn"] / max(base["rss_per_conn"], 1e-9)
        print(f"ratio chat/baseline: ack p99 x{ratio:.1f}, memory per connection x{memory:.1f}")


async def main_async(args: argparse.Namespace) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        if "baseline" in args.phases:
            results.append(await baseline_phase(args))
        if "chat" in args.phases:
            results.append(await chat_phase(args, Path(tmp)))
    report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--phases", default="baseline,chat")
    parser.add_argument(
        "--server-gc",
        choices=("on", "off"),
        default="on",
        help="off: the server's garbage collector disabled (an experiment)",
    )
    parser.add_argument("--serve-baseline", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return
    print(f"open files limit: {raise_fd_limit()}")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
