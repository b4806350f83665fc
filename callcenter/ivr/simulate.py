"""`callcenter ivr simulate`: walk a flow on a script of caller input, without a phone.

The script is what the caller does, in order: `--dtmf 1,2` types 1 at the first prompt
and 2 at the next; each comma is the caller staying silent until the timeout, so
`--dtmf ,1` lets the first prompt time out. `--say` gives the phrases spoken at speech
menus, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcenter.ivr import model as m
from callcenter.ivr.engine import (
    CallInfo,
    Engine,
    FlowLookup,
    Outcome,
    QueueRequest,
    QueueResult,
)
from callcenter.ivr.tts import fill


@dataclass
class ScriptedPort:
    """A CallPort that answers from a script and writes down what the caller would hear."""

    dtmf: str = ""
    said: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    hung_up: bool = False

    def __post_init__(self) -> None:
        self._keys = deque(self.dtmf.replace(" ", ""))
        self._phrases = deque(self.said)

    async def play(
        self,
        prompts: list[m.Prompt],
        language: str,
        variables: Mapping[str, str],
        *,
        interrupt: str,
    ) -> str:
        for prompt in prompts:
            self.lines.append(f"  plays {describe(prompt, variables)}")
            if interrupt and self._keys and self._keys[0] in interrupt:
                key = self._keys.popleft()
                self.lines.append(f"  caller presses {key} (barge-in)")
                return key
        return ""

    async def read_digits(
        self, *, first_timeout: float, inter_digit_timeout: float, max_digits: int, terminator: str
    ) -> str:
        digits = ""
        while len(digits) < max_digits and self._keys:
            key = self._keys.popleft()
            if key == ",":
                break
            if terminator and key == terminator:
                break
            digits += key
        if self._keys and self._keys[0] == "," and len(digits) == max_digits:
            self._keys.popleft()  # the pause after a full entry belongs to this read
        self.lines.append(f"  caller types {digits!r}" if digits else "  caller stays silent")
        return digits

    async def listen(self, phrases: list[str], language: str, seconds: float) -> str | None:
        said = self._phrases.popleft() if self._phrases else None
        self.lines.append(f"  caller says {said!r}" if said else "  caller says nothing")
        return said if said in phrases else None

    async def record(
        self, *, max_seconds: float, silence_seconds: float, beep: bool
    ) -> dict[str, Any] | None:
        self.lines.append(f"  records a message (up to {max_seconds:g} s)")
        return {"name": "simulated", "duration": 0}

    async def queue(self, request: QueueRequest) -> QueueResult:
        """Nobody answers in a simulation: the caller waits the node's max wait out."""
        self.lines.append(f"  waits in queue {request.queue} (up to {request.max_wait:g} s)")
        return QueueResult("timeout", request.queue)

    async def transfer(self, kind: str, target: str) -> bool:
        self.lines.append(f"  transfers to {kind} {target}")
        return True

    async def hangup(self) -> None:
        self.hung_up = True
        self.lines.append("  hangs up")


def describe(prompt: m.Prompt, variables: Mapping[str, str]) -> str:
    if prompt.say is not None:
        return repr(fill(prompt.say, variables))
    if prompt.sound is not None:
        return f"sound {prompt.sound}"
    return f"file {prompt.file}"


async def simulate(
    flow: m.Flow,
    *,
    dtmf: str = "",
    said: list[str] | None = None,
    caller: str = "+15550100",
    at: datetime | None = None,
    customer_class: str = "new",
    flows: FlowLookup | None = None,
) -> tuple[Outcome, list[str]]:
    """Run the flow on the script; the outcome and a readable transcript."""
    port = ScriptedPort(dtmf=dtmf, said=said or [])
    dialed = flow.numbers[0] if flow.numbers else ""
    now = at or datetime.now().astimezone()
    info = CallInfo(caller, dialed, customer_class=customer_class, now=lambda: now)

    async def on_step(kind: str, data: dict[str, Any]) -> None:
        port.lines.append(_step_line(kind, data))

    outcome = await Engine(flow, port, info, on_step=on_step, flows=flows).run()
    return outcome, [line for line in port.lines if line]


def _step_line(kind: str, data: dict[str, Any]) -> str:
    if kind == "ivr.node":
        return f"{data['flow']}/{data['node']} ({data['type']})"
    if kind == "ivr.input" and data.get("to"):
        return f"  -> {data['to']}"
    if kind == "ivr.branch":
        return f"  -> {data['to']}"
    if kind == "ivr.set":
        return "  sets " + ", ".join(f"{k}={v!r}" for k, v in data["variables"].items())
    if kind == "ivr.end":
        return f"end: {data['reason']} at {data['node']}"
    if kind in (
        "ivr.lookup",
        "ivr.queued",
        "ivr.queue_left",
        "voicemail",
        "callback.requested",
        "ivr.transfer",
    ):
        shown = {k: v for k, v in data.items() if k != "node"}
        return f"  {kind}: {shown}"
    return ""
