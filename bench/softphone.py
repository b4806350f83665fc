"""Softphone bridge: how many browser calls one controller core relays, and how late.

The controller side (the production classes: `AgentPeer` and `RtpEndpoint`, exactly
what each agent's softphone line runs) lives in a child process pinned to CPU 0. This
process, pinned to CPU 1, plays both ends of every call:

* "Asterisk": a UDP socket per call sending 50 RTP packets/s of u-law into the
  controller's media leg (each payload carries its send time and a sequence number),
  and receiving the agent's audio back;
* "the browser": an aiortc peer per call (DTLS-SRTP, ICE) whose microphone yields u-law
  packets, silence with a loud pulse once a second (its send time noted), and whose
  receiver notes when each of Asterisk's packets arrives.

Asterisk -> browser latency comes from the send times inside the payloads (the bridge
passes payloads through); browser -> Asterisk latency from the pulses. Loss counts
packets in each direction. In the same run, the same traffic goes through a direct RTP
relay (a UDP socket forwarding datagrams, in the same pinned child): the bridge's added
one-way latency is the difference.

    .venv/bin/python bench/softphone.py [--calls 25,50,100,150] [--seconds 10]

Not a test: prints numbers, never fails on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtpPacket
from av import Packet

from callcenter.softphone.peer import TIME_BASE, AgentPeer
from callcenter.softphone.rtp import RtpEndpoint, parse_payload

PACKET_MS = 20
SILENCE = b"\xff" * 160
PULSE = b"\x00\x80" * 80  # a full-scale square wave: unmistakable after any transcoding
STAMP = struct.Struct("!QI")  # send time (ns, CLOCK_MONOTONIC: one clock for both sides), seq


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def is_pulse(payload: bytes) -> bool:
    return sum(1 for b in payload if b in (0x00, 0x80, 0x01, 0x81)) > len(payload) // 2


# ---- the controller side (child process) ------------------------------------------------


class DirectRelay(asyncio.DatagramProtocol):
    """The baseline: datagrams forwarded as they come, between two fixed addresses."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.peers: list[tuple[str, int]] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr in self.peers:
            other = self.peers[1] if addr == self.peers[0] else self.peers[0]
            self.transport.sendto(data, other)


async def serve() -> None:
    """Answer commands (JSON lines on stdin) until stdin closes."""
    os.sched_setaffinity(0, {0})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    peers: list[tuple[AgentPeer, RtpEndpoint]] = []
    relays: list[DirectRelay] = []

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "bridge":
            rtp = await RtpEndpoint.open("127.0.0.1", lambda _: None)
            peer = AgentPeer(rtp.send)
            rtp.on_payload = peer.to_agent.push
            rtp.remote = tuple(command["asterisk"])  # type: ignore[assignment]
            answer = await peer.answer(command["sdp"])
            peers.append((peer, rtp))
            reply({"id": command["id"], "sdp": answer, "rtp": list(rtp.local_address)})
        elif op == "relay":
            _, relay = await loop.create_datagram_endpoint(DirectRelay, local_addr=("127.0.0.1", 0))
            relay.peers = [tuple(command["a"]), tuple(command["b"])]  # type: ignore[misc]
            relays.append(relay)
            reply({"id": command["id"], "port": relay.transport.get_extra_info("sockname")[1]})
        elif op == "cpu":
            reply({"cpu": _cpu()})
        elif op == "close":
            for peer, rtp in peers:
                await peer.close()
                rtp.close()
            for relay in relays:
                relay.transport.close()
            peers, relays = [], []
            reply({"closed": True})


# ---- both ends of every call (this process) --------------------------------------------


class Ear(asyncio.DatagramProtocol):
    """A UDP end that notes what arrives: stamps (latency) or pulses."""

    def __init__(self, call: Call, side: str) -> None:
        self.call, self.side = call, side
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        payload = parse_payload(data)
        if payload:
            self.call.arrived(self.side, payload)


@dataclass
class Call:
    """One call's measurements; `side` is where a packet arrived: browser or asterisk."""

    pulses_sent: list[int] = field(default_factory=list)
    to_browser: list[float] = field(default_factory=list)  # latencies, ms
    to_asterisk: list[float] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=lambda: {"browser": 0, "asterisk": 0})
    sent: dict[str, int] = field(default_factory=lambda: {"browser": 0, "asterisk": 0})

    def arrived(self, side: str, payload: bytes) -> None:
        now = time.monotonic_ns()
        self.received[side] += 1
        if side == "browser" and len(payload) >= STAMP.size:
            sent_ns, _ = STAMP.unpack_from(payload)
            self.to_browser.append((now - sent_ns) / 1e6)
        elif side == "asterisk" and self.pulses_sent and is_pulse(payload):
            self.to_asterisk.append((now - self.pulses_sent[-1]) / 1e6)


class Microphone(MediaStreamTrack):
    """The browser's side: u-law packets in real time, a pulse once a second."""

    kind = "audio"

    def __init__(self, call: Call) -> None:
        super().__init__()
        self.call = call
        self.count = 0
        self.start = time.monotonic()
        self.on = True

    async def recv(self) -> Packet:  # type: ignore[override]
        while not self.on:  # noqa: ASYNC110 - the run is over: nothing more to count
            await asyncio.sleep(1)
        due = self.start + self.count * PACKET_MS / 1000
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        pulse = self.count % 50 == 25
        packet = Packet(PULSE if pulse else SILENCE)
        packet.pts, packet.time_base = self.count * 160, TIME_BASE
        self.count += 1
        self.call.sent["browser"] += 1
        if pulse:
            self.call.pulses_sent.append(time.monotonic_ns())
        return packet


class Controller:
    """The child process, spoken to in JSON lines."""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))

    async def cpu(self) -> float:
        return float((await self.ask({"op": "cpu"}))["cpu"])

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        await self.proc.wait()


async def udp(call: Call, side: str) -> Ear:
    loop = asyncio.get_running_loop()
    _, ear = await loop.create_datagram_endpoint(
        lambda: Ear(call, side), local_addr=("127.0.0.1", 0)
    )
    return ear


def address(ear: Ear) -> tuple[str, int]:
    host, port = ear.transport.get_extra_info("sockname")[:2]
    return str(host), int(port)


async def asterisk_sends(
    calls: list[Call], ears: list[Ear], targets: list[tuple[str, int]], seconds: float
) -> None:
    """Every call's Asterisk side: one 160-byte u-law packet per 20 ms, stamped."""
    start = time.monotonic()
    headers = [os.urandom(4) for _ in calls]
    for tick in range(int(seconds * 1000 / PACKET_MS)):
        due = start + tick * PACKET_MS / 1000
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        stamp = time.monotonic_ns()
        for call, ear, target, ssrc in zip(calls, ears, targets, headers, strict=True):
            rtp = struct.pack("!BBHI", 0x80, 0, tick & 0xFFFF, tick * 160) + ssrc
            body = STAMP.pack(stamp, tick) + SILENCE[STAMP.size :]
            ear.transport.sendto(rtp + body, target)
            call.sent["asterisk"] += 1


async def run_bridge(controller: Controller, n: int, seconds: float) -> dict[str, Any]:
    calls = [Call() for _ in range(n)]
    peers: list[RTCPeerConnection] = []
    asterisks: list[Ear] = []
    targets: list[tuple[str, int]] = []
    microphones = [Microphone(call) for call in calls]
    for i, (call, microphone) in enumerate(zip(calls, microphones, strict=True)):
        asterisk = await udp(call, "asterisk")
        pc = RTCPeerConnection()
        transceiver = pc.addTransceiver(microphone, direction="sendrecv")

        async def heard(packet: RtpPacket, arrival_time_ms: int, call: Call = call) -> None:
            call.arrived("browser", packet.payload)

        transceiver.receiver._handle_rtp_packet = heard  # type: ignore[method-assign]
        await pc.setLocalDescription(await pc.createOffer())
        answer = await controller.ask(
            {
                "op": "bridge",
                "id": i,
                "sdp": pc.localDescription.sdp,
                "asterisk": list(address(asterisk)),
            }
        )
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        peers.append(pc)
        asterisks.append(asterisk)
        targets.append(tuple(answer["rtp"]))  # type: ignore[arg-type]
    async with asyncio.timeout(60):
        while any(pc.connectionState != "connected" for pc in peers):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # DTLS done everywhere; the microphones have started
    for call in calls:  # count from here on
        call.sent = {"browser": 0, "asterisk": 0}
        call.received = {"browser": 0, "asterisk": 0}
        call.to_browser.clear()
        call.to_asterisk.clear()
    cpu, ours, wall = await controller.cpu(), _cpu(), time.monotonic()
    await asterisk_sends(calls, asterisks, targets, seconds)
    for microphone in microphones:
        microphone.on = False
    cpu, ours, wall = await controller.cpu() - cpu, _cpu() - ours, time.monotonic() - wall
    await asyncio.sleep(0.5)  # what is in flight arrives
    result = summarize(calls, sum(c.sent["browser"] for c in calls))
    result["controller_cpu"], result["ends_cpu"] = cpu / wall, ours / wall
    await controller.ask({"op": "close"})
    for pc in peers:
        await pc.close()
    for ear in asterisks:
        ear.transport.close()
    return result


async def run_direct(controller: Controller, n: int, seconds: float) -> dict[str, Any]:
    """The same Asterisk -> browser stream (and a pulse stream back) through a relay."""
    calls = [Call() for _ in range(n)]
    asterisks, browsers, targets = [], [], []
    for i, call in enumerate(calls):
        asterisk, browser = await udp(call, "asterisk"), await udp(call, "browser")
        answer = await controller.ask(
            {"op": "relay", "id": i, "a": list(address(asterisk)), "b": list(address(browser))}
        )
        asterisks.append(asterisk)
        browsers.append(browser)
        targets.append(("127.0.0.1", int(answer["port"])))
    backward = asyncio.create_task(browser_pulses(calls, browsers, targets, seconds))
    await asterisk_sends(calls, asterisks, targets, seconds)
    await backward
    await asyncio.sleep(0.5)
    result = summarize(calls, sum(c.sent["browser"] for c in calls))
    await controller.ask({"op": "close"})
    for ear in asterisks + browsers:
        ear.transport.close()
    return result


async def browser_pulses(
    calls: list[Call], ears: list[Ear], targets: list[tuple[str, int]], seconds: float
) -> None:
    """The direct relay's browser side: plain RTP with the microphone's pattern."""
    start = time.monotonic()
    for tick in range(int(seconds * 1000 / PACKET_MS)):
        due = start + tick * PACKET_MS / 1000 + 0.010  # between Asterisk's packets
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        pulse = tick % 50 == 25
        for call, ear, target in zip(calls, ears, targets, strict=True):
            rtp = struct.pack("!BBHII", 0x80, 0, tick & 0xFFFF, tick * 160, 7)
            ear.transport.sendto(rtp + (PULSE if pulse else SILENCE), target)
            call.sent["browser"] += 1
            if pulse:
                call.pulses_sent.append(time.monotonic_ns())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(calls: list[Call], sent_browser: int) -> dict[str, Any]:
    sent_asterisk = sum(c.sent["asterisk"] for c in calls)
    got_browser = sum(c.received["browser"] for c in calls)
    got_asterisk = sum(c.received["asterisk"] for c in calls)
    down = [ms for c in calls for ms in c.to_browser]
    up = [ms for c in calls for ms in c.to_asterisk]
    return {
        "loss_to_browser": 1 - got_browser / max(1, sent_asterisk),
        "loss_to_asterisk": 1 - got_asterisk / max(1, sent_browser),
        "down_p50": percentile(down, 50),
        "down_p99": percentile(down, 99),
        "up_p50": percentile(up, 50),
        "up_p99": percentile(up, 99),
        "up_samples": len(up),
    }


async def main(counts: list[int], seconds: float) -> None:
    os.sched_setaffinity(0, {1})
    controller = Controller()
    await controller.start()
    print(f"softphone bridge: {seconds:g} s per run, controller pinned to CPU 0, ends on CPU 1")
    print("one-way latency in ms (p50 / p99); loss both ways; CPU share of one core: the")
    print("controller (cpu) and this process playing every Asterisk and browser (ends)")
    header = (
        f"{'calls':>5}  {'loss down':>9} {'loss up':>8}  {'down p50/p99':>13}  {'up p50/p99':>13}"
        f"  {'direct down':>13}  {'direct up':>13}  {'added p50/p99':>14}  {'cpu':>5}  {'ends':>5}"
    )
    print(header)
    for n in counts:
        bridge = await run_bridge(controller, n, seconds)
        direct = await run_direct(controller, n, seconds)
        worst = max(bridge["loss_to_browser"], bridge["loss_to_asterisk"])
        added50 = max(bridge["down_p50"] - direct["down_p50"], bridge["up_p50"] - direct["up_p50"])
        added99 = max(bridge["down_p99"] - direct["down_p99"], bridge["up_p99"] - direct["up_p99"])
        print(
            f"{n:>5}  {bridge['loss_to_browser']:>9.2%} {bridge['loss_to_asterisk']:>8.2%}"
            f"  {bridge['down_p50']:>6.1f}/{bridge['down_p99']:>6.1f}"
            f"  {bridge['up_p50']:>6.1f}/{bridge['up_p99']:>6.1f}"
            f"  {direct['down_p50']:>6.1f}/{direct['down_p99']:>6.1f}"
            f"  {direct['up_p50']:>6.1f}/{direct['up_p99']:>6.1f}"
            f"  {added50:>6.1f}/{added99:>7.1f}  {bridge['controller_cpu']:>5.0%}"
            f"  {bridge['ends_cpu']:>5.0%}" + ("" if worst < 0.01 else "  <- loss over 1%")
        )
    await controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="(internal) the controller side")
    parser.add_argument("--calls", default="25,50,100,150")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop  # what the server runs on (uvicorn[standard])

        uvloop.install()
    except ImportError:
        pass
    if args.serve:
        asyncio.run(serve())
    else:
        asyncio.run(main([int(n) for n in args.calls.split(",")], args.seconds))
