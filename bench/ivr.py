"""IVR responsiveness: from a caller's digit to the next prompt starting, under load.

Starts its own Asterisk (instance "bench-ivr") and the real server with one bench flow,
then drives SIPp callers from 127.0.0.2 that press 1 (RFC 4733, SIPp's own DTMF pcap)
every couple of seconds in a menu that answers every digit with its next prompt:

* number 500: the menu as a YAML flow run by the controller over ARI;
* number 598: the same menu as native dialplan (Background + WaitExten), the baseline.

An observer ARI application subscribed to all events timestamps, in Asterisk's own
clock, each ChannelDtmfReceived and the next PlaybackStarted (flow) or Background step
(dialplan) on that channel. Then, with the observer gone (its subscribe-all costs
Asterisk CPU that only the benchmark causes), it measures controller CPU against
Asterisk's while the flow serves C concurrent callers again.

    .venv/bin/python bench/ivr.py [--calls 100] [--presses 5]

Not a test: prints numbers, never fails on a timing. Needs `sip-tester` (SIPp).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.call_setup import SIPP_ADDRESS, _profile, cpu_seconds, percentile  # noqa: E402
from callcenter.config import Settings  # noqa: E402
from callcenter.pbx.sandbox import LocalPbx  # noqa: E402
from tests.support.controller import ServerProcess, free_port  # noqa: E402

BENCH_PORTS = {
    "sip_port": 26060,
    "carrier_sim_port": 26062,
    "ari_port": 26088,
    "ami_port": 26038,
    "rtp_port_start": 32000,
    "rtp_port_end": 33999,
}
DIGITS = "0123456789*#"
FLOW = {
    "name": "bench",
    "numbers": ["500"],
    "start": "a",
    "nodes": {
        node: {
            "type": "menu",
            "prompt": {"file": "prompts/en/welcome.wav"},
            "options": dict.fromkeys(DIGITS, other),
            "timeout": 30,
            "retries": 10,
        }
        for node, other in (("a", "b"), ("b", "a"))
    },
}
# Asterisk takes an RFC 4733 event with the same RTP timestamp and digit as the last one
# for a retransmission, and SIPp replays a pcap as recorded: so presses cycle digits.
DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="menu caller">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "bench" <sip:+1666[call_number]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:bench@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "bench" <sip:+1666[call_number]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:bench@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <pause milliseconds="1500"/>
{presses}
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "bench" <sip:+1666[call_number]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:bench@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""
PRESS = """  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <pause milliseconds="{gap}"/>
"""


class Observer:
    """An ARI app subscribed to everything: Asterisk's timestamps of digits and prompts."""

    def __init__(self) -> None:
        self.pending: dict[str, datetime] = {}
        self.delays: dict[str, list[float]] = defaultdict(list)
        self.kind: dict[str, str] = {}
        self.ready = asyncio.Event()

    async def run(self, pbx: LocalPbx) -> None:
        user, password = pbx.ari_credentials
        query = urlencode(
            {"app": "bench-observer", "api_key": f"{user}:{password}", "subscribeAll": "true"}
        )
        url = pbx.ari_url.replace("http", "ws", 1).rstrip("/") + f"/ari/events?{query}"
        async with websockets.connect(url, max_size=None) as ws:
            self.ready.set()
            async for raw in ws:
                self.feed(json.loads(raw))

    def feed(self, event: dict) -> None:
        kind = event.get("type")
        at = _time(event.get("timestamp"))
        if kind == "ChannelDtmfReceived":
            self.pending[event["channel"]["id"]] = at
        elif kind == "PlaybackStarted":
            channel = str(event["playback"].get("target_uri", "")).removeprefix("channel:")
            self._answered(channel, at, "flow")
        elif kind == "ChannelDialplan" and event.get("dialplan_app", "").lower() == "background":
            self._answered(event["channel"]["id"], at, "dialplan")

    def _answered(self, channel: str, at: datetime, kind: str) -> None:
        pressed = self.pending.pop(channel, None)
        if pressed is not None:
            self.delays[kind].append((at - pressed).total_seconds() * 1000)


def _time(text: str | None) -> datetime:
    # "2026-11-23T02:30:00.123+0000": fromisoformat on 3.11 wants "+00:00".
    assert text
    return datetime.fromisoformat(text[:-2] + ":" + text[-2:])


def sipp(settings: Settings, work: Path, number: str, calls: int, presses: int, gap_ms: int) -> int:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"sipp-{number}-"))
    scenario = run_dir / "menu.xml"
    steps = "".join(
        PRESS.format(pcap=DTMF_PCAP.format(digit=(i % 9) + 1), gap=gap_ms) for i in range(presses)
    )
    scenario.write_text(SCENARIO.replace("{presses}", steps))
    budget = calls / 20 + presses * gap_ms / 1000 + 60
    result = subprocess.run(
        [
            "sipp", f"127.0.0.1:{settings.sip_port}", "-sf", str(scenario), "-s", number,
            "-i", SIPP_ADDRESS, "-p", str(free_port()), "-mi", SIPP_ADDRESS,
            "-m", str(calls), "-r", "20", "-l", str(calls), "-nostdin", "-trace_err",
            "-timeout", f"{budget:.0f}s", "-timeout_error",
        ],
        cwd=run_dir, capture_output=True, text=True, timeout=budget + 30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        errors = "".join(p.read_text()[-1500:] for p in run_dir.glob("*_errors.log"))
        print(f"  sipp {number}: exit {result.returncode}\n{errors or result.stderr[-1500:]}")
    return result.returncode


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="callcenter-bench-ivr-"))
    flows = work / "flows"
    flows.mkdir()
    (flows / "bench.yaml").write_text(json.dumps(FLOW))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, env="test", data_dir=work / "data", pbx_instance="bench-ivr",
        http_port=free_port(), flows_dir=flows, **BENCH_PORTS,
    )  # fmt: skip
    pbx = LocalPbx(settings)
    pbx.install()
    pbx.start()
    server = ServerProcess(settings, work / "server.log")
    observer = Observer()
    watcher = asyncio.create_task(observer.run(pbx))
    try:
        server.start()
        await asyncio.wait_for(observer.ready.wait(), 10)
        assert server.proc is not None
        asterisk_pid = pbx.pid()
        assert asterisk_pid is not None
        print(f"{args.calls} concurrent callers, {args.presses} digits each, "
              f"digit -> next prompt start (ms, Asterisk's clock)")  # fmt: skip
        await asyncio.to_thread(sipp, settings, work, "598", args.calls, args.presses, args.gap)
        await asyncio.to_thread(sipp, settings, work, "500", args.calls, args.presses, args.gap)
        await asyncio.sleep(1)
        base, flow = observer.delays["dialplan"], observer.delays["flow"]
        for label, values in (("dialplan Background()", base), ("YAML flow over ARI", flow)):
            print(
                f"  {label:<22} p50 {percentile(values, 50):6.1f}  "
                f"p99 {percentile(values, 99):6.1f}  (n={len(values)})"
            )
        added = percentile(flow, 99) - percentile(base, 99)
        print(f"  added by the flow engine at p99: {added:+.1f} ms")

        # CPU in a run of its own, without the observer: serialising every event of
        # every channel for it is work Asterisk does only for the benchmark.
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
        await asyncio.sleep(2)
        ctrl0, idle_started = cpu_seconds(server.proc.pid), time.monotonic()
        await asyncio.sleep(5)
        idle = (cpu_seconds(server.proc.pid) - ctrl0) / (time.monotonic() - idle_started)
        profiler = _profile(server.proc.pid, 20)
        ctrl0, ast0 = cpu_seconds(server.proc.pid), cpu_seconds(asterisk_pid)
        kernel0 = psutil.Process(server.proc.pid).cpu_times().system
        started = time.monotonic()
        await asyncio.to_thread(sipp, settings, work, "500", args.calls, args.presses, args.gap)
        if profiler is not None:
            profiler.wait()
        elapsed = time.monotonic() - started
        ctrl = cpu_seconds(server.proc.pid) - ctrl0
        ast = cpu_seconds(asterisk_pid) - ast0
        kernel = psutil.Process(server.proc.pid).cpu_times().system - kernel0
        print(f"\nCPU of a flow run without the observer ({elapsed:.0f} s)")
        print(f"  controller {ctrl:.2f} s, Asterisk {ast:.2f} s, ratio {ctrl / ast:.3f}")
        print(f"  (of the controller's, {kernel:.2f} s in the kernel: sockets, threads)")
        print(f"  (the controller idles at {idle * elapsed:.2f} s of CPU in as long)")
    finally:
        watcher.cancel()
        with contextlib.suppress(BaseException):
            await watcher
        server.stop()
        pbx.remove()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="concurrent callers")
    parser.add_argument("--presses", type=int, default=5, help="digits each caller presses")
    parser.add_argument("--gap", type=int, default=2500, help="ms between a caller's digits")
    args = parser.parse_args()
    if not shutil.which("sipp"):
        sys.exit("sipp is missing: run `apt-get install sip-tester` (or `make test` once)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
