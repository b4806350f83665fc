"""Runs a flow: one node after another, against a `CallPort`.

The engine knows flows, not Asterisk: it asks the port to play, read digits, record or
hold, and the port does it over ARI for real calls (`ari_port.py`) or on a script for
`callcenter ivr simulate` (`simulate.py`). Every step is reported through `on_step` so
the call's path (nodes, digits, variables, timings) is stored with the call.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from callcenter.ivr import model as m
from callcenter.ivr.conditions import ConditionContext, choose
from callcenter.ivr.lookup import LookupFailed, run_lookup
from callcenter.ivr.tts import fill, say_digits

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"
MAX_STEPS = 500  # a guard; validation already refuses loops that take no input

StepCallback = Callable[[str, dict[str, Any]], Awaitable[None]]


class CallEnded(Exception):
    """The caller hung up: the flow stops wherever it was."""


class CallPort(Protocol):
    """What a flow can do with a call."""

    async def play(
        self,
        prompts: list[m.Prompt],
        language: str,
        variables: Mapping[str, str],
        *,
        interrupt: str,
    ) -> str:
        """Play in order; return the digit that interrupted it ("" when it played out)."""

    async def read_digits(
        self, *, first_timeout: float, inter_digit_timeout: float, max_digits: int, terminator: str
    ) -> str:
        """Digits typed (type-ahead included) until max, terminator or a timeout."""

    async def listen(self, phrases: list[str], language: str, seconds: float) -> str | None:
        """The phrase the caller said, or None (nothing understood, or no recognizer)."""

    async def record(
        self, *, max_seconds: float, silence_seconds: float, beep: bool
    ) -> dict[str, Any] | None:
        """Record the caller; what was stored (name, duration) or None if nothing."""

    async def queue(self, request: QueueRequest) -> QueueResult:
        """Wait in a queue (music, position announcements) until an agent or an end."""

    async def transfer(self, kind: str, target: str) -> bool:
        """Hand the call to an extension or external number; False if that failed."""

    async def hangup(self) -> None: ...


@dataclass(frozen=True)
class QueueRequest:
    """A queue node's ask: who should take this call, and what they should see."""

    queue: str
    skills: list[str]
    priority: int
    max_wait: float  # the flow's own limit; the queue may overflow sooner
    language: str
    caller_number: str
    customer_id: int | None
    customer_class: str
    variables: Mapping[str, str]  # collected in the IVR, for the agent's screen-pop
    path: Sequence[str] = ()  # the nodes the caller went through, likewise


@dataclass(frozen=True)
class QueueResult:
    """How the wait ended: `connected` to an agent, the flow's `timeout`, or the queue's
    overflow to `voicemail` or `callback`."""

    kind: str
    queue: str = ""
    agent_id: int | None = None


@dataclass
class CallInfo:
    """What the flow may know about the call and the caller."""

    caller_number: str
    dialed_number: str
    customer_class: str = "new"
    customer_id: int | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())


@dataclass
class Outcome:
    """How the flow ended: `hangup` (the flow hung up), `caller` (the caller did),
    `end` (a node with no next), `transferred`, `connected` (to an agent: the call goes
    on without the flow), `queued` (waited out with nowhere to go), `failed`."""

    reason: str
    node: str
    variables: dict[str, str]


class FlowLookup(Protocol):
    def flow(self, name: str) -> m.Flow | None: ...


class Engine:
    """One run of one flow for one call. `flows` resolves `goto: {flow: ...}`."""

    def __init__(
        self,
        flow: m.Flow,
        port: CallPort,
        call: CallInfo,
        *,
        on_step: StepCallback,
        flows: FlowLookup | None = None,
        start: str | None = None,
    ) -> None:
        self.flow = flow
        self.port = port
        self.call = call
        self.on_step = on_step
        self.flows = flows
        self.node_id = start or flow.start
        self.variables: dict[str, str] = dict(flow.variables)
        self.variables.setdefault("caller_number", call.caller_number)
        self.variables.setdefault("dialed_number", call.dialed_number)
        self.path: list[str] = []  # the nodes visited, for the agent's screen-pop

    async def run(self) -> Outcome:
        try:
            for _ in range(MAX_STEPS):
                node = self.flow.nodes[self.node_id]
                started = time.monotonic()
                self.path.append(self.node_id)
                await self.on_step(
                    "ivr.node", {"flow": self.flow.name, "node": self.node_id, "type": node.type}
                )
                following = await self._run_node(node)
                log.debug(
                    "%s/%s took %.3f s", self.flow.name, self.node_id, time.monotonic() - started
                )
                if isinstance(following, Outcome):
                    return await self._finish(following)
                self.node_id = following
            return await self._finish(self._outcome("failed"))
        except CallEnded:
            return await self._finish(self._outcome("caller"))

    async def _finish(self, outcome: Outcome) -> Outcome:
        await self.on_step(
            "ivr.end", {"flow": self.flow.name, "node": outcome.node, "reason": outcome.reason}
        )
        return outcome

    def _outcome(self, reason: str) -> Outcome:
        return Outcome(reason, self.node_id, dict(self.variables))

    def _then(self, target: str | None, *, default: str = "end") -> str | Outcome:
        return target if target is not None else self._outcome(default)

    async def _play(self, prompts: m.Prompts | None, *, interrupt: str = "") -> str:
        items = m.prompt_list(prompts)
        if not items:
            return ""
        return await self.port.play(items, self.flow.language, self.variables, interrupt=interrupt)

    # ---- nodes -----------------------------------------------------------------

    async def _run_node(self, node: m.NodeBase) -> str | Outcome:
        match node:
            case m.PlayNode():
                await self._play(node.prompt)
                return self._then(node.next)
            case m.MenuNode():
                return await self._menu(node)
            case m.CollectNode():
                return await self._collect(node)
            case m.SpeechMenuNode():
                return await self._speech_menu(node)
            case m.ConditionNode():
                return await self._condition(node)
            case m.LookupNode():
                return await self._lookup(node)
            case m.SetNode():
                values = {k: fill(v, self.variables) for k, v in node.variables.items()}
                self.variables.update(values)
                await self.on_step("ivr.set", {"node": self.node_id, "variables": values})
                return node.next
            case m.GotoNode():
                return await self._goto(node)
            case m.HangupNode():
                await self._play(node.prompt)
                await self.port.hangup()
                return self._outcome("hangup")
            case m.QueueNode():
                return await self._queue(
                    node.queue, node.skills, node.priority, node.max_wait, node.on_timeout
                )
            case m.VoicemailNode():
                return await self._voicemail(node)
            case m.CallbackNode():
                return await self._callback(node)
            case m.TransferNode():
                return await self._transfer(node)
        raise TypeError(f"no runner for node type {type(node).__name__}")

    async def _menu(self, node: m.MenuNode) -> str | Outcome:
        interrupt = ALL_KEYS if node.barge_in else ""
        failure = "no_input"
        for attempt in range(1, node.retries + 1):
            digit = await self._play(node.prompt, interrupt=interrupt)
            if not digit:
                digit = await self.port.read_digits(
                    first_timeout=node.timeout,
                    inter_digit_timeout=node.timeout,
                    max_digits=1,
                    terminator="",
                )
            target = node.options.get(digit) if digit else None
            await self.on_step(
                "ivr.input",
                {"node": self.node_id, "digits": digit, "attempt": attempt, "to": target},
            )
            if target is not None:
                return target
            failure = "invalid" if digit else "no_input"
            if attempt < node.retries:
                await self._play(node.invalid_prompt if digit else node.no_input_prompt)
        specific = node.invalid if failure == "invalid" else node.no_input
        return self._then(specific or node.on_failure, default="failed")

    async def _collect(self, node: m.CollectNode) -> str | Outcome:
        pattern = re.compile(node.pattern) if node.pattern else None
        for attempt in range(1, node.retries + 1):
            first = await self._play(node.prompt, interrupt=ALL_KEYS)
            digits = await self._read_more(node, first)
            ok = node.min_digits <= len(digits) <= node.max_digits and (
                pattern is None or pattern.fullmatch(digits) is not None
            )
            await self.on_step(
                "ivr.input",
                {"node": self.node_id, "digits": digits, "attempt": attempt, "valid": ok},
            )
            if ok and (not node.confirm or await self._confirm(digits)):
                self.variables[node.store] = digits
                await self.on_step(
                    "ivr.set", {"node": self.node_id, "variables": {node.store: digits}}
                )
                return node.next
            if attempt < node.retries and not ok:
                await self._play(node.invalid_prompt)
        return self._then(node.on_failure, default="failed")

    async def _read_more(self, node: m.CollectNode, first: str) -> str:
        if first and node.terminator and first == node.terminator:
            return ""
        rest = await self.port.read_digits(
            first_timeout=node.inter_digit_timeout if first else node.timeout,
            inter_digit_timeout=node.inter_digit_timeout,
            max_digits=node.max_digits - len(first),
            terminator=node.terminator,
        )
        return first + rest

    async def _confirm(self, digits: str) -> bool:
        """Read the digits back: 1 accepts, anything else (or nothing) asks again."""
        lang = self.flow.language
        text = CONFIRM_TEXT[lang].format(digits=say_digits(digits, lang))
        key = await self.port.play([m.Prompt(say=text)], lang, {}, interrupt=ALL_KEYS)
        if not key:
            key = await self.port.read_digits(
                first_timeout=5.0, inter_digit_timeout=5.0, max_digits=1, terminator=""
            )
        await self.on_step("ivr.confirm", {"node": self.node_id, "digits": digits, "key": key})
        return key == "1"

    async def _speech_menu(self, node: m.SpeechMenuNode) -> str | Outcome:
        phrases = list(node.phrases)
        for attempt in range(1, node.retries + 1):
            digit = await self._play(node.prompt, interrupt=ALL_KEYS if node.dtmf else "")
            said = None
            if not digit:
                said = await self.port.listen(phrases, self.flow.language, node.timeout)
            if said is None and not digit and node.dtmf:
                digit = await self.port.read_digits(
                    first_timeout=1.0, inter_digit_timeout=1.0, max_digits=1, terminator=""
                )
            target = node.phrases.get(said) if said else node.dtmf.get(digit) if digit else None
            await self.on_step(
                "ivr.input",
                {
                    "node": self.node_id,
                    "said": said,
                    "digits": digit,
                    "attempt": attempt,
                    "to": target,
                },
            )
            if target is not None:
                return target
        return self._then(node.on_failure, default="failed")

    async def _condition(self, node: m.ConditionNode) -> str:
        ctx = ConditionContext(
            now=self.call.now(),
            variables=self.variables,
            caller_number=self.call.caller_number,
            customer_class=self.call.customer_class,
        )
        target = choose(node, ctx)
        await self.on_step("ivr.branch", {"node": self.node_id, "to": target})
        return target

    async def _lookup(self, node: m.LookupNode) -> str:
        started = time.monotonic()
        try:
            values = await run_lookup(node, self.variables)
        except LookupFailed as exc:
            await self.on_step("ivr.lookup", {"node": self.node_id, "ok": False, "error": str(exc)})
            return node.on_error
        self.variables.update(values)
        ms = round((time.monotonic() - started) * 1000)
        await self.on_step(
            "ivr.lookup", {"node": self.node_id, "ok": True, "ms": ms, "variables": values}
        )
        return node.next

    async def _goto(self, node: m.GotoNode) -> str | Outcome:
        if node.node is not None:
            return node.node
        target = self.flows.flow(node.flow) if self.flows and node.flow else None
        if target is None:
            log.error("flow %s: goto to unknown flow %r", self.flow.name, node.flow)
            return self._outcome("failed")
        await self.on_step("ivr.goto", {"from": self.flow.name, "flow": target.name})
        self.flow = target
        for key, value in target.variables.items():
            self.variables.setdefault(key, value)
        return target.start

    async def _queue(
        self, queue: str, skills: list[str], priority: int, max_wait: float, on_timeout: str | None
    ) -> str | Outcome:
        """Wait for an agent; what the queue's overflow asks for runs here, in the flow."""
        await self.on_step(
            "ivr.queued",
            {"node": self.node_id, "queue": queue, "skills": skills, "priority": priority},
        )
        request = QueueRequest(
            queue=queue,
            skills=skills,
            priority=priority,
            max_wait=max_wait,
            language=self.flow.language,
            caller_number=self.call.caller_number,
            customer_id=self.call.customer_id,
            customer_class=self.call.customer_class,
            variables=dict(self.variables),
            path=list(self.path),
        )
        result = await self.port.queue(request)
        data = {"node": self.node_id, "result": result.kind, "queue": result.queue}
        await self.on_step("ivr.queue_left", data | {"agent_id": result.agent_id})
        if result.kind == "connected":
            return self._outcome("connected")
        if result.kind == "voicemail":
            prompt = m.Prompt(say=OVERFLOW_VOICEMAIL_TEXT[self.flow.language])
            return await self._voicemail(m.VoicemailNode(type="voicemail", prompt=prompt))
        if result.kind == "callback":
            prompt = m.Prompt(say=OVERFLOW_CALLBACK_TEXT[self.flow.language])
            return await self._callback(m.CallbackNode(type="callback", prompt=prompt))
        return self._then(on_timeout, default="queued")

    async def _voicemail(self, node: m.VoicemailNode) -> str | Outcome:
        await self._play(node.prompt)
        stored = await self.port.record(
            max_seconds=node.max_seconds, silence_seconds=node.silence_seconds, beep=node.beep
        )
        await self.on_step("voicemail", {"node": self.node_id, "recording": stored})
        if stored is not None and stored.get("ended_by") == "caller":
            raise CallEnded  # hanging up is how most messages end: nothing more to play
        return self._then(node.next)

    async def _callback(self, node: m.CallbackNode) -> str | Outcome:
        number = self.call.caller_number if node.use_caller_number else ""
        await self._play(node.prompt)
        if not number or not await self._confirm(number.lstrip("+")):
            collect = m.CollectNode(
                type="collect",
                prompt=m.Prompt(say=ENTER_NUMBER_TEXT[self.flow.language]),
                store="callback_number",
                min_digits=3,
                max_digits=20,
                next=self.node_id,
            )
            digits = await self._read_more(
                collect, await self._play(collect.prompt, interrupt=ALL_KEYS)
            )
            if len(digits) < collect.min_digits:
                await self.on_step("callback.requested", {"node": self.node_id, "number": None})
                return self._then(node.next)
            number = digits
        self.variables["callback_number"] = number
        await self.on_step("callback.requested", {"node": self.node_id, "number": number})
        return self._then(node.next)

    async def _transfer(self, node: m.TransferNode) -> str | Outcome:
        if node.queue is not None:
            return await self._queue(node.queue, [], 0, 600, node.on_failure)
        kind, target = (
            ("extension", node.extension) if node.extension else ("external", node.external)
        )
        assert target is not None
        ok = await self.port.transfer(kind, target)
        await self.on_step("ivr.transfer", {"node": self.node_id, kind: target, "ok": ok})
        return self._outcome("transferred") if ok else self._then(node.on_failure, default="failed")


CONFIRM_TEXT = {
    "en": "You entered {digits}. Press 1 if that is right, or 2 to enter it again.",
    "zh": "您输入的是 {digits}。正确请按1，重新输入请按2。",
}
OVERFLOW_VOICEMAIL_TEXT = {
    "en": "All our agents are still busy. Please leave a message after the tone, "
    "and we will get back to you.",
    "zh": "我们的客服人员仍在忙碌中。请在提示音后留言，我们会尽快回复您。",
}
OVERFLOW_CALLBACK_TEXT = {
    "en": "All our agents are still busy. We can call you back instead.",
    "zh": "我们的客服人员仍在忙碌中。我们可以稍后给您回电。",
}
ENTER_NUMBER_TEXT = {
    "en": "Please enter the number we should call you back on, then press the hash key.",
    "zh": "请输入您的回拨号码，以井号键结束。",
}
