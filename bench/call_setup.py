"""Call set-up through the controller versus a dialplan-only Answer(), and CPU cost.

Starts its own Asterisk (instance "bench", ports apart from a developer's and the
tests') and the real server process, then drives SIPp from 127.0.0.2, which the PBX
identifies as a carrier:

1. N calls at R calls/s to extension 199 (dialplan Answer(): the baseline) and the same to
   number 100 (Stasis: the controller records the call, answers it and greets the caller).
   Prints p50/p99 of INVITE -> 200 OK for both and what the controller adds.
2. C concurrent calls to 100 held for H seconds; prints the CPU seconds the controller
   process and Asterisk spent meanwhile, and their ratio.

    .venv/bin/python bench/call_setup.py [--calls 200] [--rate 20] [--concurrent 100]

Not a test: it prints numbers and never fails on a timing. Needs `sip-tester` (SIPp).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callcenter.config import Settings  # noqa: E402
from callcenter.pbx.sandbox import LocalPbx  # noqa: E402
from tests.support.controller import ServerProcess, free_port  # noqa: E402

BENCH_PORTS = {
    "sip_port": 25060,
    "carrier_sim_port": 25062,
    "ari_port": 28088,
    "ami_port": 25038,
    "rtp_port_start": 30000,
    "rtp_port_end": 31999,
}
SIPP_ADDRESS = "127.0.0.2"  # pjsip.conf identifies it as the carrier


def scenario(directory: Path) -> Path:
    """SIPp's own UAC scenario, calling from a phone number instead of "sipp"."""
    # `sipp -sd` prints the scenario, then exits 99 (a usage-style exit): not an error.
    dump = subprocess.run(["sipp", "-sd", "uac"], capture_output=True, text=True, check=False)
    if "<scenario" not in dump.stdout:
        sys.exit(f"sipp -sd uac printed no scenario: {dump.stderr[-500:]}")
    xml = dump.stdout.replace("sipp <sip:sipp@", '"bench" <sip:+1555[call_number]@')
    path = directory / "uac.xml"
    path.write_text(xml)
    return path


def run_sipp(
    settings: Settings, work: Path, number: str, calls: int, rate: float, hold_ms: int
) -> list[float]:
    """Place `calls` calls at `rate`/s, each held `hold_ms`; the INVITE -> 200 OK times."""
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"sipp-{number}-"))
    budget = calls / rate + hold_ms / 1000 + 60
    result = subprocess.run(
        [
            "sipp",
            f"127.0.0.1:{settings.sip_port}",
            "-sf",
            str(scenario(run_dir)),
            "-s",
            number,
            "-i",
            SIPP_ADDRESS,
            "-p",
            str(free_port()),
            "-mi",
            SIPP_ADDRESS,
            "-m",
            str(calls),
            "-r",
            f"{rate:g}",
            "-l",
            str(calls),
            "-d",
            str(hold_ms),
            "-trace_rtt",
            "-rtt_freq",
            "1",
            "-nostdin",
            "-trace_err",
            "-timeout",
            f"{budget:.0f}s",
            "-timeout_error",
        ],
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=budget + 30,
        check=False,
    )
    times = _rtt(run_dir)
    if result.returncode != 0 or len(times) < calls:
        errors = "".join(p.read_text()[-2000:] for p in run_dir.glob("*_errors.log"))
        print(
            f"  sipp to {number}: exit {result.returncode}, {len(times)}/{calls} answered\n"
            f"{errors or result.stderr[-2000:]}"
        )
    return times


def _rtt(run_dir: Path) -> list[float]:
    times: list[float] = []
    for path in run_dir.glob("*_rtt.csv"):
        with path.open() as f:
            for row in csv.DictReader(f, delimiter=";"):
                value = row.get("response_time_ms") or ""
                if value.strip():
                    times.append(float(value))
    return times


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _profile(pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    """With BENCH_PROFILE=file and py-spy installed, sample the controller meanwhile."""
    target = os.environ.get("BENCH_PROFILE")
    if not target or not shutil.which("py-spy"):
        return None
    command = ["py-spy", "record", "-p", str(pid), "-d", f"{seconds:.0f}", "-r", "200"]
    if os.environ.get("BENCH_PROFILE_NATIVE"):  # C frames too: the event loop's own work
        command.append("--native")
    return subprocess.Popen([*command, "-f", "raw", "-o", target], stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per set-up run")
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second")
    parser.add_argument("--concurrent", type=int, default=100, help="calls up at once (CPU)")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds each CPU call lasts")
    args = parser.parse_args()
    if not shutil.which("sipp"):
        sys.exit("sipp is missing: run `apt-get install sip-tester` (or `make test` once)")

    work = Path(tempfile.mkdtemp(prefix="callcenter-bench-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="test",
        data_dir=work / "data",
        pbx_instance="bench",
        http_port=free_port(),
        flows_dir=work / "no-flows",  # the controller's own default flow: greeting, hold
        **BENCH_PORTS,
    )
    pbx = LocalPbx(settings)
    pbx.install()
    pbx.start()
    server = ServerProcess(settings, work / "server.log")
    try:
        server.start()
        asterisk_pid = pbx.pid()
        assert asterisk_pid is not None and server.proc is not None
        print(f"call set-up, {args.calls} calls at {args.rate:g}/s (INVITE -> 200 OK, ms)")
        # Short holds: set-up is what is measured; the rate, not the hold, sets the load.
        base = run_sipp(settings, work, "199", args.calls, args.rate, 1000)
        ctrl = run_sipp(settings, work, "100", args.calls, args.rate, 1000)
        for label, values in (("dialplan Answer()", base), ("controller", ctrl)):
            print(
                f"  {label:<18} p50 {percentile(values, 50):6.1f}  "
                f"p99 {percentile(values, 99):6.1f}  (n={len(values)})"
            )
        added50 = percentile(ctrl, 50) - percentile(base, 50)
        added99 = percentile(ctrl, 99) - percentile(base, 99)
        print(f"  added by the controller: p50 {added50:+.1f} ms, p99 {added99:+.1f} ms")
        base99 = percentile(base, 99)
        if base99 > 0:
            print(f"  ratio controller/dialplan p99: {percentile(ctrl, 99) / base99:.2f}")
        print(f"\nCPU with {args.concurrent} concurrent calls held {args.hold:g} s")
        time.sleep(2)  # let the set-up runs' hang-ups settle
        profiler = _profile(server.proc.pid, args.hold + 10)
        ctrl_before, ast_before = cpu_seconds(server.proc.pid), cpu_seconds(asterisk_pid)
        rate = max(args.rate, args.concurrent / 5)
        held = run_sipp(settings, work, "100", args.concurrent, rate, int(args.hold * 1000))
        time.sleep(2)  # the last hang-ups' events
        ctrl_cpu = cpu_seconds(server.proc.pid) - ctrl_before
        ast_cpu = cpu_seconds(asterisk_pid) - ast_before
        if profiler is not None:
            profiler.wait()
        print(f"  calls answered: {len(held)}/{args.concurrent}")
        print(f"  controller CPU {ctrl_cpu:.2f} s, Asterisk CPU {ast_cpu:.2f} s")
        print(f"  ratio controller/Asterisk: {ctrl_cpu / ast_cpu:.3f}" if ast_cpu else "")
        print(f"  ({statistics.fmean(held):.1f} ms mean set-up under that load)" if held else "")
    finally:
        server.stop()
        pbx.remove()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
