"""A small typed view of ARI's channel JSON, and the helper-channel rule.

Helper channels
---------------
Snoop channels (`POST /channels/{id}/snoop`) and externalMedia channels
(`POST /channels/externalMedia`) enter the same Stasis application as real calls and
raise their own StasisStart. A handler that treats them as new calls creates more
helpers for them, recursively (one trial created 1,345 channels). The convention:

* every helper we create gets Stasis args starting with a marker, and the preferred
  form is `helper_args("snoop", call_id)` -> `"helper,snoop,<call_id>"`;
  `"snoop"` and `"media"` as first argument are accepted too;
* independently of args, channel technologies that are always helpers are recognised
  by name: `Snoop/`, `UnicastRTP/` (externalMedia over RTP), `AudioSocket/`, `WebSocket/`
  (chan_websocket media);
* a StasisStart carrying `replace_channel` is a masquerade/transfer replacing a channel
  we already own (e.g. after an attended transfer), not a new call.

`is_helper_channel(event)` applies all three checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HELPER_MARKER = "helper"
HELPER_FIRST_ARGS = frozenset({HELPER_MARKER, "snoop", "media"})
HELPER_NAME_PREFIXES = ("Snoop/", "UnicastRTP/", "AudioSocket/", "WebSocket/")
# Channel ids of the legs that ring agents' phones (calls/conversations.py): their events
# are that module's, never a call of their own.
AGENT_LEG_PREFIX = "agent-"
MEDIA_LEG_PREFIX = f"{AGENT_LEG_PREFIX}media-"  # a softphone line's persistent media leg
GUEST_LEG_PREFIX = f"{AGENT_LEG_PREFIX}guest-"  # a third party called into a conversation
OWN_CALL_PREFIX = f"{AGENT_LEG_PREFIX}out-"  # whom an agent dialed
MONITOR_LEG_PREFIX = f"{AGENT_LEG_PREFIX}monitor-"  # a supervisor's phone, and its snoops
TRANSCRIBE_LEG_PREFIX = f"{AGENT_LEG_PREFIX}stt-"  # live transcription's snoops and media
# Bridges of callers and agents talking (calls/conversations.py): an answered queue call's,
# and an agent's own call's.
TALK_BRIDGE_PREFIXES = ("talk-", "dial-")


def helper_args(*parts: str) -> str:
    """Stasis `appArgs` for a helper channel: `helper_args("snoop", "c1")` -> "helper,snoop,c1".

    ARI splits `appArgs` on commas into the StasisStart `args` list, so parts must not
    contain commas.
    """
    for part in parts:
        if "," in part:
            raise ValueError(f"helper arg {part!r} contains a comma")
    return ",".join((HELPER_MARKER, *parts))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _parse_time(value: Any) -> datetime | None:
    # Asterisk writes "2024-05-01T12:00:00.123+0000"; fromisoformat accepts it on 3.11.
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Channel:
    """The fields of an ARI `Channel` object the controller relies on."""

    id: str
    name: str
    state: str
    caller_number: str = ""
    caller_name: str = ""
    dialed_exten: str = ""
    context: str = ""
    app_name: str = ""
    app_data: str = ""
    creation_time: datetime | None = None
    language: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_ari(cls, data: Mapping[str, Any]) -> Channel:
        """Build from ARI JSON; missing optional parts (caller, dialplan) become ""."""
        caller = data.get("caller") or {}
        dialplan = data.get("dialplan") or {}
        variables = data.get("channelvars") or {}
        return cls(
            id=str(data["id"]),
            name=_text(data.get("name")),
            state=_text(data.get("state")),
            caller_number=_text(caller.get("number")),
            caller_name=_text(caller.get("name")),
            dialed_exten=_text(dialplan.get("exten")),
            context=_text(dialplan.get("context")),
            app_name=_text(dialplan.get("app_name")),
            app_data=_text(dialplan.get("app_data")),
            creation_time=_parse_time(data.get("creationtime")),
            language=_text(data.get("language")),
            variables={str(k): str(v) for k, v in variables.items()},
        )

    @property
    def stasis_app(self) -> str:
        """The Stasis application the channel sits in ("" when it is elsewhere).

        ARI's channel listing has no `args`; the dialplan's `Stasis(app,a,b)` data is the
        only record of them, which is what a controller restarting mid-call must read.
        """
        if self.app_name.lower() != "stasis":
            return ""
        return self.app_data.split(",", 1)[0].strip()

    @property
    def stasis_args(self) -> list[str]:
        """The arguments after the app name in `Stasis(app,a,b)`: ["a", "b"]."""
        if not self.stasis_app:
            return []
        return [part.strip() for part in self.app_data.split(",")[1:]]

    @property
    def technology(self) -> str:
        """ "PJSIP" for "PJSIP/trunk-00000001"."""
        return self.name.partition("/")[0]


@dataclass(frozen=True)
class StasisArgs:
    """The `args` of a StasisStart: what the dialplan or originator passed to Stasis().

    `Stasis(callcenter,inbound,100)` gives `args == ("inbound", "100")`.
    """

    args: tuple[str, ...] = ()

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> StasisArgs:
        raw = event.get("args") or ()
        if isinstance(raw, str):  # defensive: a single string, never seen from Asterisk
            raw = raw.split(",") if raw else ()
        return cls(tuple(str(a) for a in raw))

    @property
    def kind(self) -> str:
        """The first argument ("inbound", "helper", ...) or ""."""
        return self.args[0] if self.args else ""

    def get(self, index: int, default: str = "") -> str:
        return self.args[index] if 0 <= index < len(self.args) else default

    @property
    def is_helper(self) -> bool:
        return self.kind in HELPER_FIRST_ARGS

    def __len__(self) -> int:
        return len(self.args)


def is_helper_name(name: str) -> bool:
    """True for channel technologies that only exist as our helpers."""
    return name.startswith(HELPER_NAME_PREFIXES)


def is_helper_channel(event: Mapping[str, Any]) -> bool:
    """True when a StasisStart (or any channel event) is about a helper channel.

    Such channels must never be handled as new calls: see the module docstring.
    """
    channel = event.get("channel") or {}
    if is_helper_name(_text(channel.get("name"))):
        return True
    if event.get("replace_channel"):
        return True
    return StasisArgs.from_event(event).is_helper


def event_channel_id(event: Mapping[str, Any]) -> str | None:
    """The channel an ARI event is about, for keying per-channel serial execution.

    Channel events carry `channel`; playback/recording events name their target as
    `target_uri: "channel:<id>"`; ChannelDestroyed and friends carry `channel` too.
    """
    channel = event.get("channel")
    if isinstance(channel, Mapping) and "id" in channel:
        return str(channel["id"])
    for key in ("playback", "recording"):
        obj = event.get(key)
        if isinstance(obj, Mapping):
            target = _text(obj.get("target_uri"))
            if target.startswith("channel:"):
                return target.removeprefix("channel:")
    return None


def channel_of(event: Mapping[str, Any]) -> Channel | None:
    """The event's `channel` as a `Channel`, or None for non-channel events."""
    channel = event.get("channel")
    if isinstance(channel, Mapping) and "id" in channel:
        return Channel.from_ari(channel)
    return None


# Asterisk's own names (ast_cause2str) for the Q.850 causes a contact center sees. ARI's
# ChannelHangupRequest carries only the number, and a channel that left the app before
# it was destroyed raises no ChannelDestroyed for us, which would carry the text.
HANGUP_CAUSES = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    22: "Number changed",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    58: "Bearer capability not available",
    102: "Recover on timer expiry",
    127: "Interworking, unspecified",
}


def hangup_cause_text(cause: int | None) -> str | None:
    """The text Asterisk gives a hang-up cause, e.g. 16 -> "Normal Clearing"."""
    if cause is None:
        return None
    return HANGUP_CAUSES.get(cause, f"cause {cause}")


def is_talk_bridge(bridge_id: str) -> bool:
    return bridge_id.startswith(TALK_BRIDGE_PREFIXES)
