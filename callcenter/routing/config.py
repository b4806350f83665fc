"""routing.yaml: the queues and routing rules admins keep under version control.

Read like the IVR flows, with positions, so every problem is reported as
file:line:column in words ("unknown option 'ring_timout' (did you mean 'ring_timeout'?)").
Beyond the schema: overflow and rule targets must be queues that exist, and overflow
must not go round in a circle (a task would bounce between full queues forever).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from callcenter.ivr.loader import FlowError, PathKey, Problem, SourceMap, parse, suggest
from callcenter.metrics import ServiceLevel
from callcenter.routing.model import Overflow, OverflowKind, QueueSpec, Strategy
from callcenter.routing.rules import ATTRIBUTES, Rule

Level = Annotated[int, Field(ge=1, le=10)]
Seconds = Annotated[float, Field(gt=0, le=86400)]
Attribute = Literal["region", "channel", "tier", "language", "queue", "number"]


class RoutingError(FlowError):
    """routing.yaml cannot be used; `problems` lists every reason found."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OverflowConfig(_Strict):
    to: OverflowKind
    queue: str | None = None

    @model_validator(mode="after")
    def _queue_only_for_queues(self) -> OverflowConfig:
        if self.to == OverflowKind.QUEUE and not self.queue:
            raise ValueError("overflow to a queue needs 'queue: NAME'")
        if self.to != OverflowKind.QUEUE and self.queue:
            raise ValueError(f"'queue' is only for overflow to a queue, not to {self.to.value}")
        return self


class ServiceLevelConfig(_Strict):
    """`{seconds: 20, target: 80}`: 80 % of contacts answered within 20 seconds."""

    seconds: Seconds = 20.0
    target: Annotated[float, Field(gt=0, le=100)] = 80.0
    abandoned: Literal["counted", "ignored"] = "counted"
    short_abandon: Annotated[float, Field(ge=0, le=600)] = 5.0

    def objective(self) -> ServiceLevel:
        return ServiceLevel(self.seconds, self.target / 100, self.abandoned, self.short_abandon)


class QueueConfig(_Strict):
    channel: Literal["voice", "chat"] = "voice"
    skills: dict[str, Level] = {}
    strategy: Strategy = Strategy.LONGEST_IDLE
    sticky: bool = True
    vip_first: bool = True
    ring_timeout: Seconds = 20.0
    missed_offer_break: bool = True
    wrap_up: Annotated[float, Field(ge=0, le=3600)] = 10.0
    max_wait: Seconds | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    overflow: OverflowConfig | None = None
    record: bool = True
    transcribe: bool = False
    music_on_hold: str = "default"
    announce_every: Annotated[float, Field(ge=0, le=3600)] = 30.0
    handle_seconds: Seconds = 180.0
    service_level: ServiceLevelConfig = ServiceLevelConfig()

    def spec(self, name: str) -> QueueSpec:
        overflow = None
        if self.overflow is not None:
            overflow = Overflow(self.overflow.to, self.overflow.queue or "")
        return QueueSpec(
            name=name, channel=self.channel, skills=dict(self.skills), strategy=self.strategy,
            sticky=self.sticky, vip_first=self.vip_first, ring_timeout=self.ring_timeout,
            missed_offer_break=self.missed_offer_break, wrap_up=self.wrap_up,
            max_wait=self.max_wait, max_length=self.max_length, overflow=overflow,
            record=self.record, transcribe=self.transcribe, music_on_hold=self.music_on_hold,
            announce_every=self.announce_every, default_handle_seconds=self.handle_seconds,
            service_level=self.service_level.objective(),
        )  # fmt: skip


class RuleConfig(_Strict):
    when: dict[Attribute, str | list[str]]
    queue: str | None = None
    skills: dict[str, Level] = {}
    priority: int = 0

    def rule(self) -> Rule:
        when: dict[str, list[str]] = {
            str(k): [v] if isinstance(v, str) else list(v) for k, v in self.when.items()
        }
        return Rule(when=when, queue=self.queue, skills=dict(self.skills), priority=self.priority)


class WrapUpCode(_Strict):
    """A disposition agents pick after a call, labelled in both UI languages."""

    en: str = Field(min_length=1, max_length=64)
    zh: str = Field(min_length=1, max_length=64)


DEFAULT_WRAP_UP_CODES = {
    "resolved": WrapUpCode(en="Resolved", zh="已解决"),
    "follow_up": WrapUpCode(en="Needs follow-up", zh="需跟进"),
    "complaint": WrapUpCode(en="Complaint", zh="投诉"),
    "sales_lead": WrapUpCode(en="Sales lead", zh="销售机会"),
    "wrong_number": WrapUpCode(en="Wrong number", zh="打错电话"),
}


class RoutingConfig(_Strict):
    queues: dict[str, QueueConfig]
    rules: list[RuleConfig] = []
    wrap_up_codes: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")], WrapUpCode] = Field(
        default_factory=lambda: dict(DEFAULT_WRAP_UP_CODES), min_length=1
    )


@dataclass(frozen=True)
class Routing:
    """What the router and the call service use, and warnings worth showing."""

    queues: list[QueueSpec]
    rules: list[Rule]
    warnings: list[Problem]
    wrap_up_codes: dict[str, WrapUpCode] = field(
        default_factory=lambda: dict(DEFAULT_WRAP_UP_CODES)
    )

    def queue_names(self) -> list[str]:
        return [q.name for q in self.queues]


def load_routing(path: Path) -> Routing:
    """routing.yaml as queues and rules; RoutingError lists everything wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutingError([Problem(str(path), 0, 0, f"cannot read: {exc}")]) from None
    return load_routing_text(text, str(path))


def load_routing_text(text: str, file: str) -> Routing:
    try:
        data, source, problems = parse(text, file)
    except FlowError as exc:
        raise RoutingError(exc.problems) from None
    if not isinstance(data, dict):
        raise RoutingError([source.problem((), "routing.yaml must be a mapping with 'queues'")])
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        problems += [_explain(source, err) for err in exc.errors()]
        raise RoutingError(sorted(problems, key=lambda p: (p.line, p.column))) from None
    problems += _references(config, source)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise RoutingError(problems)
    return Routing(
        queues=[q.spec(name) for name, q in config.queues.items()],
        rules=[r.rule() for r in config.rules],
        warnings=problems,
        wrap_up_codes=config.wrap_up_codes,
    )


def _references(config: RoutingConfig, source: SourceMap) -> list[Problem]:
    names = sorted(config.queues)
    problems: list[Problem] = []
    for name, queue in config.queues.items():
        at: PathKey = ("queues", name)
        overflow = queue.overflow
        if overflow is not None and overflow.queue and overflow.queue not in names:
            hint = suggest(overflow.queue, names)
            message = f"overflow to unknown queue {overflow.queue!r}{hint}"
            problems.append(source.problem((*at, "overflow", "queue"), message))
        if overflow is None and (queue.max_wait or queue.max_length):
            option = "max_wait" if queue.max_wait else "max_length"
            message = f"{option} without 'overflow' has no effect: say where tasks go then"
            problems.append(source.problem((*at, option), message, "warning"))
    for index, rule in enumerate(config.rules):
        if rule.queue is not None and rule.queue not in names:
            message = f"rule sends to unknown queue {rule.queue!r}{suggest(rule.queue, names)}"
            problems.append(source.problem(("rules", index, "queue"), message))
    problems += _overflow_cycles(config, source)
    return problems


def _overflow_cycles(config: RoutingConfig, source: SourceMap) -> list[Problem]:
    following: dict[str, str] = {
        name: q.overflow.queue
        for name, q in config.queues.items()
        if q.overflow is not None and q.overflow.queue in config.queues
    }
    problems: list[Problem] = []
    reported: set[str] = set()
    for start, first in following.items():
        path: list[str] = [start]
        name: str | None = first
        while name is not None and name not in path:
            path.append(name)
            name = following.get(name)
        if name == start and not reported & set(path):
            reported |= set(path)
            circle = " -> ".join([*path, start])
            message = f"overflow goes round in a circle: {circle}; end it in voicemail or callback"
            problems.append(source.problem(("queues", start, "overflow"), message))
    return problems


OPTIONS = {
    *RoutingConfig.model_fields, *QueueConfig.model_fields, *RuleConfig.model_fields,
    *OverflowConfig.model_fields,
}  # fmt: skip


def _explain(source: SourceMap, err: ErrorDetails) -> Problem:
    loc: PathKey = tuple(part for part in err["loc"] if part != "[key]")
    kind, last = err["type"], loc[-1] if loc else ""
    if kind == "extra_forbidden":
        message = f"unknown option {last!r}{suggest(str(last), sorted(OPTIONS))}"
    elif kind == "missing":
        message = f"missing {last!r}"
    elif kind == "literal_error" and len(loc) >= 2 and loc[-2] == "when":
        message = f"unknown attribute {last!r} (one of {', '.join(ATTRIBUTES)})"
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = f"{last}: {err['msg']} (got {_shown(err.get('input'))})"
    return source.problem(loc, message)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
