"""An independent SIP client for tests: baresip driven over its ctrl_tcp JSON netstrings.

baresip is a different SIP stack from Asterisk's pjsip, so a call it places proves that
the PBX works for a real phone, not only for itself. Debian 12's baresip 1.0.0 quirks:
- there is no file audio player, so received audio goes to `alsa,null`;
- it hangs up when the source WAV ends, so the WAV is padded to outlast the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from pathlib import Path
from typing import Any

BARESIP_MODULES = Path("/usr/lib/baresip/modules")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tone_wav_args(path: Path, seconds: float, freq: int, tone_seconds: float) -> list[str]:
    """sox arguments for an 8 kHz mono tone of `tone_seconds`, padded with silence to
    `seconds`."""
    return [
        "sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path),
        "synth", f"{tone_seconds:g}", "sine", str(freq), "vol", "0.5",
        "pad", "0", f"{max(0.0, seconds - tone_seconds):g}",
    ]  # fmt: skip


async def make_wav(
    path: Path, seconds: float = 30.0, freq: int = 440, *, tone_seconds: float = 1.0
) -> Path:
    """A tone WAV, long enough that baresip never runs out mid-call."""
    proc = await asyncio.create_subprocess_exec(*tone_wav_args(path, seconds, freq, tone_seconds))
    await asyncio.wait_for(proc.wait(), 30)
    return path


class Baresip:
    """One baresip user agent registered as a desk phone, in its own config dir."""

    def __init__(
        self,
        workdir: Path,
        *,
        user: str,
        password: str,
        registrar: str,
        audio: Path,
        dump_dir: Path | None = None,
        far_end: tuple[str, int] | None = None,
    ) -> None:
        self.workdir = workdir
        # A far end (a customer's phone beyond the carrier trunk): it listens on this
        # address, registers nowhere, and takes calls to its number (`user`).
        self.far_end = far_end
        self.dump_dir = dump_dir  # with it, what the phone sends and hears is saved as WAVs
        self.user = user
        self.password = password
        self.registrar = registrar  # host:port of the PBX
        self.audio = audio
        self.ctrl_port = free_port()
        self.host = far_end[0] if far_end else "127.0.0.1"
        self.sip_port = far_end[1] if far_end else free_port(socket.SOCK_DGRAM)
        self.events: list[dict[str, Any]] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        dump: list[str] = []
        if self.dump_dir is not None:
            self.dump_dir.mkdir(parents=True, exist_ok=True)
            dump = ["module sndfile.so", f"snd_path {self.dump_dir}"]
        (self.workdir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {self.host}:{self.sip_port}",
                    f"audio_source aufile,{self.audio}",
                    "audio_player alsa,null",
                    "audio_alert alsa,null",
                    f"module_path {BARESIP_MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module alsa.so",
                    *dump,
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "",
                ]
            )
        )
        account = (
            f"<sip:{self.user}@{self.far_end[0]}:{self.far_end[1]};transport=udp>;regint=0"
            if self.far_end
            else f"<sip:{self.user}@{self.registrar};transport=udp>;"
            f"auth_pass={self.password};regint=300"
        )
        (self.workdir / "accounts").write_text(account + "\n")

    async def start(self) -> None:
        if not shutil.which("baresip"):
            raise RuntimeError(
                "baresip is missing: apt-get install --no-install-recommends baresip-core"
            )
        self._write_config()
        log = (self.workdir / "baresip.log").open("wb")
        self._proc = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        for _ in range(50):
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.ctrl_port
                )
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"baresip ctrl_tcp did not open; see {self.workdir}/baresip.log")
        self._pump = asyncio.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        """Netstrings: `<len>:<json>,`; events and command responses interleave."""
        assert self._reader is not None
        while True:
            try:
                size = int((await self._reader.readuntil(b":"))[:-1])
                payload = await self._reader.readexactly(size + 1)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            self.events.append(json.loads(payload[:-1]))
            self._changed.set()

    async def command(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        data = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(str(len(data)).encode() + b":" + data + b",")
        await self._writer.drain()

    def heard(self) -> Path:
        """The WAV of what the phone received in its latest call (needs `dump_dir`)."""
        assert self.dump_dir is not None
        return max(self.dump_dir.glob("*-dec.wav"), key=lambda p: p.stat().st_mtime)

    def mark(self) -> int:
        """A place in the event list: `wait_event(kind, since=mark)` ignores what came before."""
        return len(self.events)

    async def wait_event(
        self, kind: str, within: float = 10.0, *, since: int = 0
    ) -> dict[str, Any]:
        """The first event of `kind` after `since` (seen already or arriving within `within`)."""
        async with asyncio.timeout(within):
            while True:
                for event in self.events[since:]:
                    if event.get("event") and event.get("type") == kind:
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def dial(self, number: str) -> None:
        await self.command("dial", f"sip:{number}@{self.registrar}")

    async def answer(self, within: float = 15.0, *, since: int = 0) -> None:
        """Pick up when the phone rings (after `since`), as an agent would."""
        await self.wait_event("CALL_INCOMING", within, since=since)
        await self.command("accept")
        await self.wait_event("CALL_ESTABLISHED", 5, since=since)

    async def hangup(self) -> None:
        await self.command("hangup")

    async def send_dtmf(self, digits: str) -> None:
        await self.command("sndcode", digits)

    async def stop(self) -> None:
        """Quit baresip; kill it if it does not go. Safe to call twice."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self.command("quit")
                self._writer.close()
            self._writer = None
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), 3)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
