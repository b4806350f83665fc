"""The shape of an IVR flow file: what admins write in ivr_flows/*.yaml.

One pydantic model per node type, discriminated by `type`. The models say what a flow
*is*; `validate.py` checks what a single model cannot (dangling gotos, unreachable
nodes, loops that would spin without input, numbers claimed twice). `extra="forbid"`
everywhere: a misspelt option is an error, never silently ignored.

    name: main
    language: en
    numbers: ["100"]
    start: welcome
    nodes:
      welcome: {type: play, prompt: {say: "Welcome to Example."}, next: menu}
      menu:
        type: menu
        prompt: {say: "For sales press 1, for support press 2."}
        options: {"1": sales, "2": support}
        no_input: menu_again
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Language = Literal["en", "zh"]
DTMF_KEYS = frozenset("0123456789*#")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(Strict):
    """Exactly one source: text spoken by TTS, an Asterisk sound, or a file under media/.

    `say` may use `{variable}` placeholders filled from the flow's variables.
    """

    say: str | None = Field(default=None, min_length=1, max_length=2000)
    sound: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_/-]+$")
    file: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_./-]+\.(wav|WAV)$")
    language: Language | None = None  # defaults to the flow's

    @model_validator(mode="after")
    def _one_source(self) -> Prompt:
        given = [k for k in ("say", "sound", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a prompt needs exactly one of say, sound, file")
        if self.file is not None and ".." in self.file.split("/"):
            raise ValueError("file must stay inside media/")
        return self


Prompts = Prompt | list[Prompt]


def prompt_list(prompts: Prompts | None) -> list[Prompt]:
    if prompts is None:
        return []
    return prompts if isinstance(prompts, list) else [prompts]


class NodeBase(Strict):
    """Options every node has."""

    description: str = ""


class PlayNode(NodeBase):
    type: Literal["play"]
    prompt: Prompts
    next: NodeId | None = None  # None: the flow ends here (hang up)


class MenuNode(NodeBase):
    type: Literal["menu"]
    prompt: Prompts
    options: dict[str, NodeId] = Field(min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=3, ge=1, le=10)  # tries in all, the first included
    barge_in: bool = True  # a digit stops the prompt
    invalid_prompt: Prompts | None = None
    no_input_prompt: Prompts | None = None
    invalid: NodeId | None = None  # when retries run out on wrong digits
    no_input: NodeId | None = None  # when retries run out on silence
    on_failure: NodeId | None = None  # either, unless invalid/no_input say otherwise

    @field_validator("options")
    @classmethod
    def _keys_are_digits(cls, options: dict[str, NodeId]) -> dict[str, NodeId]:
        for key in options:
            if len(key) != 1 or key not in DTMF_KEYS:
                raise ValueError(f"option {key!r}: use one key of 0-9 * #")
        return options


class CollectNode(NodeBase):
    type: Literal["collect"]
    prompt: Prompts
    store: VarName
    min_digits: int = Field(default=1, ge=1, le=64)
    max_digits: int = Field(default=16, ge=1, le=64)
    terminator: Literal["#", "*", ""] = "#"
    timeout: float = Field(default=5.0, gt=0, le=60)  # for the first digit
    inter_digit_timeout: float = Field(default=3.0, gt=0, le=30)
    pattern: str | None = None  # a regular expression the whole input must match
    retries: int = Field(default=3, ge=1, le=10)
    invalid_prompt: Prompts | None = None
    confirm: bool = False  # read the digits back: 1 to accept, 2 to re-enter
    next: NodeId
    on_failure: NodeId | None = None

    @model_validator(mode="after")
    def _lengths(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        return self


class SpeechMenuNode(NodeBase):
    type: Literal["speech_menu"]
    prompt: Prompts
    phrases: dict[str, NodeId] = Field(min_length=1)  # what the caller says -> node
    dtmf: dict[str, NodeId] = Field(default_factory=dict)  # the keypad fallback
    timeout: float = Field(default=5.0, gt=0, le=30)
    retries: int = Field(default=2, ge=1, le=10)
    on_failure: NodeId | None = None


class BusinessHours(Strict):
    """Open hours per weekday ("mon": ["09:00-12:00", "13:00-18:00"]), and closed dates."""

    timezone: str = "UTC"
    weekly: dict[
        Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        list[Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")]],
    ] = Field(default_factory=dict)
    holidays: list[Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\d$")]] = Field(
        default_factory=list
    )


class Compare(Strict):
    """`variable` compared with `equals`/`not_equals`/`matches` (a regular expression)."""

    variable: VarName
    equals: str | None = None
    not_equals: str | None = None
    matches: str | None = None

    @model_validator(mode="after")
    def _some_test(self) -> Compare:
        if self.equals is None and self.not_equals is None and self.matches is None:
            raise ValueError("compare needs equals, not_equals or matches")
        return self


class Branch(Strict):
    """One test of a condition node; the first that holds chooses `then`."""

    business_hours: BusinessHours | None = None
    holiday: list[Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\d$")]] | None = None
    compare: Compare | None = None
    caller_matches: str | None = None  # a regular expression on the caller's number
    customer_class: Literal["vip", "returning", "new"] | None = None
    then: NodeId

    @model_validator(mode="after")
    def _one_test(self) -> Branch:
        tests = ("business_hours", "holiday", "compare", "caller_matches", "customer_class")
        given = [k for k in tests if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a branch needs exactly one of {', '.join(tests)}")
        return self


class ConditionNode(NodeBase):
    type: Literal["condition"]
    branches: list[Branch] = Field(min_length=1)
    otherwise: NodeId


class LookupNode(NodeBase):
    type: Literal["lookup"]
    url: str = Field(pattern=r"^https?://")  # `{variable}` placeholders allowed
    method: Literal["GET", "POST"] = "GET"
    timeout: float = Field(default=3.0, gt=0, le=30)
    store: dict[VarName, str] = Field(default_factory=dict)  # variable -> JSON path "a.b"
    next: NodeId
    on_error: NodeId


class SetNode(NodeBase):
    type: Literal["set"]
    variables: dict[VarName, str] = Field(min_length=1)  # `{variable}` placeholders allowed
    next: NodeId


class GotoNode(NodeBase):
    type: Literal["goto"]
    node: NodeId | None = None
    flow: str | None = None  # another flow, by name, from its start

    @model_validator(mode="after")
    def _one_target(self) -> GotoNode:
        if (self.node is None) == (self.flow is None):
            raise ValueError("goto needs exactly one of node, flow")
        return self


class HangupNode(NodeBase):
    type: Literal["hangup"]
    prompt: Prompts | None = None  # a goodbye before hanging up


class QueueNode(NodeBase):
    type: Literal["queue"]
    queue: str = Field(min_length=1, max_length=64)
    skills: list[str] = Field(default_factory=list)
    priority: int = Field(default=0, ge=0, le=100)
    max_wait: float = Field(default=600, gt=0)
    on_timeout: NodeId | None = None


class VoicemailNode(NodeBase):
    type: Literal["voicemail"]
    prompt: Prompts | None = None
    max_seconds: float = Field(default=120, gt=0, le=600)
    silence_seconds: float = Field(default=5, gt=0, le=60)
    beep: bool = True
    next: NodeId | None = None


class CallbackNode(NodeBase):
    type: Literal["callback"]
    prompt: Prompts
    use_caller_number: bool = True  # offer the number they call from, else collect one
    next: NodeId | None = None


class TransferNode(NodeBase):
    type: Literal["transfer"]
    extension: str | None = Field(default=None, pattern=r"^[0-9*#]{1,32}$")
    queue: str | None = None
    external: str | None = Field(default=None, pattern=r"^\+?[0-9]{3,32}$")
    on_failure: NodeId | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransferNode:
        given = [k for k in ("extension", "queue", "external") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("transfer needs exactly one of extension, queue, external")
        return self


Node = Annotated[
    PlayNode
    | MenuNode
    | CollectNode
    | SpeechMenuNode
    | ConditionNode
    | LookupNode
    | SetNode
    | GotoNode
    | HangupNode
    | QueueNode
    | VoicemailNode
    | CallbackNode
    | TransferNode,
    Field(discriminator="type"),
]

NODE_TYPES = (
    "play",
    "menu",
    "collect",
    "speech_menu",
    "condition",
    "lookup",
    "set",
    "goto",
    "hangup",
    "queue",
    "voicemail",
    "callback",
    "transfer",
)


class Flow(Strict):
    """One flow file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    language: Language = "en"
    numbers: list[Annotated[str, Field(pattern=r"^\+?[0-9*#]{1,32}$")]] = Field(
        default_factory=list
    )
    start: NodeId
    variables: dict[VarName, str] = Field(default_factory=dict)  # initial values
    nodes: dict[NodeId, Node] = Field(min_length=1)
