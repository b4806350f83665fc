"""A call told as text, for the description of a ticket made from it.

Pure: it reads a call record and its timeline in their JSON shapes (`call_public`,
`event_public`), so a ticket from a call, a ticket from a voicemail and, later, a
speech transcript's summary all tell a call the same way. A transcript is taken when
there is one (`transcript` lines, or a `transcript_url`); until speech-to-text exists
nobody passes one, and the summary says nothing about it rather than link to nothing.
`transcripts.summary` picks the key sentences of a call (a voicemail's is told whole).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

Language = Literal["en", "zh"]

LABELS: Mapping[Language, Mapping[str, str]] = {
    "en": {
        "title": "Call summary", "caller": "Caller", "anonymous": "number withheld",
        "dialed": "Dialed", "time": "Time", "queue": "Queue", "wait": "Waited",
        "talk": "Talk time", "agent": "Agent", "ivr_path": "IVR path",
        "variables": "Collected in the IVR", "voicemail": "Voicemail",
        "recording": "Recording", "transcript": "Transcript", "seconds": "s",
        "outcome": "Outcome", "subject": "Call from {number}",
        "voicemail_subject": "Voicemail from {number}",
        "key_sentences": "Key sentences",
    },
    "zh": {
        "title": "通话摘要", "caller": "来电号码", "anonymous": "匿名来电",
        "dialed": "拨打号码", "time": "时间", "queue": "队列", "wait": "等待时长",
        "talk": "通话时长", "agent": "坐席", "ivr_path": "IVR 路径",
        "variables": "IVR 收集的信息", "voicemail": "留言",
        "recording": "录音", "transcript": "转写", "seconds": "秒",
        "outcome": "结果", "subject": "来电 {number}",
        "voicemail_subject": "留言 {number}",
        "key_sentences": "要点",
    },
}  # fmt: skip


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str  # "caller", "agent", or a name
    text: str


def subject(call: Mapping[str, Any], language: Language, *, voicemail: bool = False) -> str:
    """A default subject: who called (the agent may write a better one)."""
    labels = LABELS[language]
    number = call.get("caller_number") or labels["anonymous"]
    return labels["voicemail_subject" if voicemail else "subject"].format(number=number)[:200]


def call_summary(
    call: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    agent_name: str | None,
    zone: ZoneInfo,
    language: Language = "en",
    transcript: Sequence[TranscriptLine] | None = None,
    transcript_url: str | None = None,
    key_sentences: bool = False,
) -> str:
    """The call as lines of `label: value`; lines with nothing to say are left out.
    `transcript`: the whole of it, or (`key_sentences`) a few lines picked from it."""
    labels = LABELS[language]
    seconds = labels["seconds"]
    lines = [f"{labels['title']} (#{call['id']})"]

    def add(label: str, value: object) -> None:
        if value not in (None, "", [], {}):
            lines.append(f"{labels[label]}: {value}")

    add("caller", " ".join(filter(None, [call.get("caller_number") or labels["anonymous"],
                                         call.get("caller_name")])))  # fmt: skip
    add("dialed", call.get("dialed_number"))
    add("time", _when(call.get("started_at"), zone))
    add("queue", call.get("queue"))
    add("wait", _duration(call.get("queue_seconds"), seconds))
    add("agent", agent_name)
    add("talk", _duration(call.get("talk_seconds"), seconds))
    add("outcome", call.get("wrap_up_code"))
    add("ivr_path", " → ".join(ivr_path(events)))
    collected = ivr_variables(events)
    add("variables", ", ".join(f"{k}={v}" for k, v in collected.items()))
    for voicemail in (e for e in events if e.get("type") == "voicemail"):
        recording = (voicemail.get("data") or {}).get("recording") or {}
        add("voicemail", _duration(recording.get("duration"), seconds) or "✓")
    if call.get("recording_url"):
        length = _duration(call.get("recording_seconds"), seconds)
        add("recording", f"{call['recording_url']}" + (f" ({length})" if length else ""))
    add("transcript", transcript_url)
    if transcript:
        lines.append(f"{labels['key_sentences' if key_sentences else 'transcript']}:")
        lines.extend(f"  {line.speaker}: {line.text}" for line in transcript)
    return "\n".join(lines)[:20_000]


def ivr_path(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The IVR nodes the caller went through; `flow/node` once the flow changes."""
    path: list[str] = []
    first_flow: str | None = None
    for event in events:
        if event.get("type") != "ivr.node":
            continue
        data = event.get("data") or {}
        flow, node = data.get("flow"), str(data.get("node"))
        first_flow = first_flow or flow
        path.append(node if flow == first_flow else f"{flow}/{node}")
    return path


def ivr_variables(events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """What the IVR collected or set (`ivr.set` steps), the last value of each."""
    collected: dict[str, str] = {}
    for event in events:
        if event.get("type") == "ivr.set":
            for key, value in ((event.get("data") or {}).get("variables") or {}).items():
                collected[str(key)] = str(value)
    return collected


def _duration(value: object, unit: str) -> str | None:
    if not isinstance(value, int | float):
        return None
    return f"{round(value)} {unit}"


def _when(value: object, zone: ZoneInfo) -> str | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
