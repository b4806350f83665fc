"""Place a test call through the carrier simulator and report what happened.

The simulator is Asterisk calling itself over real SIP: the `carrier-sim` endpoint
sends an INVITE (with SDP, then RTP and RFC 4733 DTMF) from its own loopback transport
to the main one, where it is identified as `carrier-in` and lands in context `inbound`
exactly like a call from a real carrier. The calling leg runs `carrier-sim-caller`
(wait, play a WAV, send DTMF, hold, hang up).

The call is originated and followed over AMI because the calling leg is not in any
Stasis app, so ARI would not report its events. Only the few AMI messages needed here
are spoken; the full client lives in callcenter/pbx/ami.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import shutil
import time
import wave
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.config import Settings
from callcenter.pbx.sandbox import LocalPbx, PbxError

log = logging.getLogger(__name__)

DEFAULT_CALLER = "+15550100"
# Why an OriginateResponse failed, by its Reason code (AST_CONTROL_* of the outcome).
ORIGINATE_REASONS = {
    "0": "failed (no such endpoint or the far end refused it)",
    "1": "hung up before answer",
    "3": "not answered (ringing timeout)",
    "5": "busy",
    "8": "congestion (rejected or unreachable)",
}


@dataclass
class CallReport:
    """What happened to one simulated call; times are ms from the originate request."""

    number: str
    answered: bool = False
    failure: str = ""
    inbound_channel: str = ""  # the PBX-side channel's name
    inbound_channel_id: str = ""  # ... and its unique id (the ARI channel id)
    invite_ms: float | None = None  # the INVITE created the PBX-side channel
    answered_ms: float | None = None
    hangup_ms: float | None = None
    duration_s: float | None = None  # from answer to hang-up
    hung_up_by: str = ""  # "caller" (the simulator) or "pbx"
    cause: int | None = None
    cause_text: str = ""
    dtmf_sent: str = ""
    dtmf_received: str = ""  # digits the PBX-side channel received
    user_events: list[dict[str, str]] = field(default_factory=list)  # from the PBX side
    heard: Path | None = None  # what the caller heard, when recording was asked for

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI."""
        out = [f"call to {self.number}"]
        if self.invite_ms is not None:
            out.append(f"  INVITE reached the PBX after {self.invite_ms:.0f} ms")
        if self.answered:
            out.append(f"  answered after {self.answered_ms:.0f} ms")
        else:
            out.append(f"  not answered: {self.failure or 'unknown reason'}")
        if self.dtmf_sent:
            out.append(f"  DTMF sent: {self.dtmf_sent}")
        if self.dtmf_received:
            out.append(f"  DTMF received by the PBX: {self.dtmf_received}")
        out.extend(f"  event: {e}" for e in self.user_events)
        if self.hung_up_by:
            out.append(f"  hung up by: {self.hung_up_by}")
        if self.duration_s is not None:
            out.append(f"  duration: {self.duration_s:.1f} s")
        if self.cause is not None:
            out.append(f"  cause: {self.cause} ({self.cause_text})")
        return out


class AmiLink:
    """A bare AMI connection: framed messages in, actions out. Enough for one call."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, port: int, username: str, secret: str, wait: float = 5.0) -> AmiLink:
        """Connect and log in; raises PbxError with the reason when it cannot."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), wait
            )
        except (OSError, TimeoutError) as exc:
            raise PbxError(
                f"cannot reach AMI on 127.0.0.1:{port}: is the PBX running? ({exc})"
            ) from exc
        link = cls(reader, writer)
        await asyncio.wait_for(reader.readline(), wait)  # "Asterisk Call Manager/x.y"
        await link.send({"Action": "Login", "Username": username, "Secret": secret})
        reply = await asyncio.wait_for(link.read(), wait)
        if reply.get("Response") != "Success":
            await link.close()
            raise PbxError(f"AMI login refused: {reply.get('Message', reply)}")
        return link

    async def send(self, action: dict[str, str | list[str]]) -> None:
        lines: list[str] = []
        for key, value in action.items():
            values = value if isinstance(value, list) else [value]
            lines.extend(f"{key}: {v}" for v in values)
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()

    async def read(self) -> dict[str, str]:
        """One message (response or event); repeated keys keep the last value."""
        message: dict[str, str] = {}
        while True:
            raw = await self._reader.readline()
            if not raw:
                raise PbxError("AMI connection closed by Asterisk")
            line = raw.decode(errors="replace").rstrip("\r\n")
            if not line:
                if message:
                    return message
                continue
            key, _, value = line.partition(":")
            message[key.strip()] = value.strip()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send({"Action": "Logoff"})
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def prepare_caller_audio(pbx: LocalPbx, audio: Path) -> str:
    """Convert a WAV to 8 kHz mono 16-bit into the instance tree; return its Asterisk path.

    Asterisk's wav format is 8 kHz only, and it can read only inside its root.
    """
    if not shutil.which("sox"):
        raise PbxError("sox is missing: run `apt-get install sox`")
    digest = await asyncio.to_thread(_file_digest, audio)
    host_path, asterisk_path = pbx.instance_file(f"sim/caller-{digest}.wav")
    if not await asyncio.to_thread(host_path.exists):
        host_path.parent.mkdir(parents=True, exist_ok=True)
        # Callers placed at once with the same audio each convert it: their own temporary
        # file, then the same finished one.
        tmp = host_path.with_suffix(f".{secrets.token_hex(4)}.tmp.wav")
        proc = await asyncio.create_subprocess_exec(
            "sox",
            str(audio),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(tmp),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise PbxError(f"sox took over 60 s converting {audio}") from None
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise PbxError(f"sox could not convert {audio}: {err.decode().strip()}")
        pbx.give_to_asterisk(tmp)
        tmp.replace(host_path)
    return asterisk_path.removesuffix(".wav")


def _file_digest(path: Path) -> str:
    """Content hash: the same WAV is converted once, a changed one again."""
    if not path.is_file():
        raise PbxError(f"audio file {path} does not exist")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class _CallFollower:
    """Turns the AMI event stream of one simulated call into a CallReport."""

    def __init__(self, report: CallReport, caller_id: str, caller_name: str) -> None:
        self.report = report
        self.caller_id = caller_id
        self.caller_name = caller_name
        self.inbound_id = ""
        self.caller_channel = ""
        self.started = time.monotonic()
        self.caller_done = False
        self.caller_gone = False
        self.inbound_gone = False
        self._answered_at: float | None = None

    def _ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    @property
    def finished(self) -> bool:
        return self.caller_gone and (self.inbound_gone or not self.inbound_id)

    def feed(self, event: dict[str, str]) -> None:
        name = event.get("Event", "")
        uid = event.get("Uniqueid", "")
        if not self.inbound_id and self._is_inbound_leg(event):
            self.inbound_id = uid
            self.report.inbound_channel = event.get("Channel", "")
            self.report.inbound_channel_id = uid
            self.report.invite_ms = self._ms()
        if name == "OriginateResponse" and event.get("Response") == "Failure":
            reason = event.get("Reason", "")
            self.report.failure = ORIGINATE_REASONS.get(reason, f"reason {reason}")
            self.caller_gone = True
        elif uid == self.caller_id:
            self.caller_channel = event.get("Channel", self.caller_channel)
            self._feed_caller(name, event)
        elif uid and uid == self.inbound_id:
            self._feed_inbound(name, event)

    def _is_inbound_leg(self, event: dict[str, str]) -> bool:
        # The caller name travels in the From header: it ties the PBX-side channel
        # (a separate SIP call) to this originate without touching the dialplan.
        return event.get("Channel", "").startswith("PJSIP/carrier-in-") and (
            event.get("CallerIDName") == self.caller_name
        )

    def _feed_caller(self, name: str, event: dict[str, str]) -> None:
        if name == "Newstate" and event.get("ChannelState") == "6" and not self.report.answered:
            self.report.answered = True
            self.report.answered_ms = self._ms()
            self._answered_at = time.monotonic()
        elif name == "UserEvent" and event.get("UserEvent") == "CarrierSimDtmfSent":
            self.report.dtmf_sent += event.get("Digits", "")
        elif name == "UserEvent" and event.get("UserEvent") == "CarrierSimHangup":
            self.caller_done = True
        elif name == "Hangup":
            self.caller_gone = True
            self.report.hangup_ms = self._ms()
            self.report.hung_up_by = "caller" if self.caller_done else "pbx"
            if self._answered_at is not None:
                self.report.duration_s = time.monotonic() - self._answered_at
            with contextlib.suppress(ValueError):
                self.report.cause = int(event.get("Cause", ""))
            self.report.cause_text = event.get("Cause-txt", "")
            if not self.report.answered and not self.report.failure:
                self.report.failure = f"hung up before answer ({self.report.cause_text})"

    def _feed_inbound(self, name: str, event: dict[str, str]) -> None:
        if name == "DTMFEnd" and event.get("Direction") == "Received":
            self.report.dtmf_received += event.get("Digit", "")
        elif name == "UserEvent":
            self.report.user_events.append(
                {k: v for k, v in event.items() if k not in _SNAPSHOT_KEYS}
            )
        elif name == "Hangup":
            self.inbound_gone = True


# Channel snapshot fields AMI adds to every channel event; UserEvent payload is the rest.
_SNAPSHOT_KEYS = frozenset(
    {
        "Event",
        "Privilege",
        "Channel",
        "ChannelState",
        "ChannelStateDesc",
        "CallerIDNum",
        "CallerIDName",
        "ConnectedLineNum",
        "ConnectedLineName",
        "Language",
        "AccountCode",
        "Context",
        "Exten",
        "Priority",
        "Uniqueid",
        "Linkedid",
        "SystemName",
        "Timestamp",
    }
)


async def place_call(
    settings: Settings,
    number: str,
    dtmf: str = "",
    audio: Path | None = None,
    hold: float = 3.0,
    *,
    caller: str = DEFAULT_CALLER,
    answer_timeout: float = 30.0,
    record: bool = False,
) -> CallReport:
    """Call `number` through the carrier simulator and follow it until both legs end.

    `dtmf` is sent (RFC 4733) after the optional `audio` WAV, then the caller holds for
    `hold` seconds and hangs up, unless the PBX hangs up first. With `record`, what the
    caller heard is saved as a WAV (`report.heard`), e.g. to prove audio never stopped.
    """
    _check_call_args(number, dtmf, hold)
    pbx = LocalPbx(settings)
    if not pbx.is_running():
        raise PbxError("the PBX is not running: run `callcenter pbx start`")
    wav = await prepare_caller_audio(pbx, audio) if audio else ""
    token = secrets.token_hex(6)
    caller_id, caller_name = f"carrier-sim-{token}", f"sim-{token}"
    report = CallReport(number=number)
    heard_asterisk = ""
    if record:
        report.heard, heard_asterisk = _heard_file(pbx, token)
    follower = _CallFollower(report, caller_id, caller_name)
    user, secret = pbx.ami_credentials
    link = await AmiLink.connect(settings.ami_port, user, secret)
    try:
        follower.started = time.monotonic()
        await link.send(
            {
                "Action": "Originate",
                "ActionID": token,
                "Channel": f"PJSIP/{number}@carrier-sim",
                "ChannelId": caller_id,
                "Context": "carrier-sim-caller",
                "Exten": "s",
                "Priority": "1",
                "CallerID": f'"{caller_name}" <{caller}>',
                "Timeout": str(int(answer_timeout * 1000)),
                "Async": "true",
                "Variable": [
                    f"CALLER_WAV={wav}",
                    f"CALLER_DTMF={dtmf}",
                    f"CALLER_HOLD={hold:g}",
                    f"CALLER_RECORD={heard_asterisk}",
                ],
            }
        )
        budget = answer_timeout + hold + 0.25 * len(dtmf) + 60.0 + (30.0 if wav else 0.0)
        await asyncio.wait_for(_follow(link, follower), budget)
    except TimeoutError:
        report.failure = report.failure or "no hang-up within the time limit"
        log.warning("call to %s did not finish in time; hanging it up", number)
        await _hangup_quietly(link, follower.caller_channel)
    finally:
        await link.close()
    if report.heard is not None:
        await _wait_written(report.heard)
    return report


def _heard_file(pbx: LocalPbx, token: str) -> tuple[Path, str]:
    host, asterisk = pbx.instance_file(f"sim/heard-{token}.wav")
    if not host.parent.is_dir():
        host.parent.mkdir(parents=True, exist_ok=True)
        pbx.give_to_asterisk(host.parent)
    return host, asterisk


async def _wait_written(path: Path, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """MixMonitor closes its file shortly after the hang-up: wait until it is complete."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        size = await asyncio.to_thread(_size, path)
        if size > 0 and size == last:
            return
        last = size
        await asyncio.sleep(0.2)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else -1


def longest_silence(path: Path, *, window_ms: int = 20, threshold: int = 100) -> float:
    """The longest stretch of silence in a 16-bit mono WAV, in seconds.

    A window counts as silent when its peak amplitude stays under `threshold`, which
    is far below music on hold or speech and above the noise of a quiet RTP stream.
    """
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono audio")
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    samples = array("h", frames)
    step = max(1, rate * window_ms // 1000)
    longest = current = 0
    for start in range(0, len(samples), step):
        window = samples[start : start + step]
        if max(map(abs, window), default=0) < threshold:
            current += len(window)
            longest = max(longest, current)
        else:
            current = 0
    return longest / rate


async def _follow(link: AmiLink, follower: _CallFollower) -> None:
    while True:
        message = await link.read()
        if message.get("Response") == "Error" and message.get("ActionID"):
            follower.report.failure = message.get("Message", "originate refused")
            return
        follower.feed(message)
        if follower.finished:
            return


async def _hangup_quietly(link: AmiLink, channel: str) -> None:
    """Never leave a simulated call running after we stopped watching it."""
    if channel:
        with contextlib.suppress(Exception):
            await link.send({"Action": "Hangup", "Channel": channel})


def _check_call_args(number: str, dtmf: str, hold: float) -> None:
    """The values end up in a dial string and dialplan variables: keep them plain."""
    if not number or not all(c.isalnum() or c in "+*#" for c in number):
        raise PbxError(f"number {number!r}: use digits (and + * #) only")
    if not all(c in "0123456789*#ABCDabcdwW" for c in dtmf):
        raise PbxError(f"DTMF {dtmf!r}: use 0-9 * # A-D (w = 0.5 s pause)")
    if not 0 <= hold <= 3600:
        raise PbxError("hold must be between 0 and 3600 seconds")
