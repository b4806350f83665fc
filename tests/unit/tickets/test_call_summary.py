"""The call summary a ticket made from a call carries: pure, from JSON shapes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from callcenter.tickets.call_summary import TranscriptLine, call_summary, subject

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALL = {
    "id": 7, "caller_number": "+8613800138000", "caller_name": "Li Lei",
    "dialed_number": "4008001000", "started_at": "2026-11-30T01:00:00+00:00",
    "queue": "support", "queue_seconds": 42.4, "talk_seconds": 125.6,
    "wrap_up_code": "solved", "recording_url": None, "recording_seconds": None,
}  # fmt: skip
EVENTS = [
    {"type": "started", "data": {}},
    {"type": "ivr.node", "data": {"flow": "main", "node": "welcome", "type": "play"}},
    {"type": "ivr.node", "data": {"flow": "main", "node": "menu", "type": "menu"}},
    {"type": "ivr.input", "data": {"node": "menu", "digits": "2", "to": "account"}},
    {"type": "ivr.node", "data": {"flow": "billing", "node": "account", "type": "collect"}},
    {"type": "ivr.set", "data": {"node": "account", "variables": {"account": "1234"}}},
    {"type": "ivr.set", "data": {"node": "x", "variables": {"account": "5678", "lang": "zh"}}},
    {"type": "ivr.node", "data": {"flow": "billing", "node": "queue", "type": "queue"}},
]  # fmt: skip


def test_a_call_is_told_field_by_field_in_the_centre_s_time_zone():
    text = call_summary(CALL, EVENTS, agent_name="Amy", zone=SHANGHAI)
    assert text.splitlines() == [
        "Call summary (#7)",
        "Caller: +8613800138000 Li Lei",
        "Dialed: 4008001000",
        "Time: 2026-11-30 09:00:00 CST",
        "Queue: support",
        "Waited: 42 s",
        "Agent: Amy",
        "Talk time: 126 s",
        "Outcome: solved",
        "IVR path: welcome → menu → billing/account → billing/queue",
        "Collected in the IVR: account=5678, lang=zh",
    ]


def test_the_recording_is_linked_only_when_there_is_one_and_a_transcript_when_given():
    assert "Recording" not in call_summary(CALL, EVENTS, agent_name=None, zone=SHANGHAI)
    recorded = {**CALL, "recording_url": "/api/calls/7/recording", "recording_seconds": 61.0}
    lines = call_summary(
        recorded, [], agent_name=None, zone=SHANGHAI, language="zh",
        transcript=[TranscriptLine("caller", "路由器坏了"), TranscriptLine("agent", "好的")],
    ).splitlines()  # fmt: skip
    assert "录音: /api/calls/7/recording (61 秒)" in lines
    assert lines[-3:] == ["转写:", "  caller: 路由器坏了", "  agent: 好的"]
    assert not any(line.startswith(("坐席", "IVR")) for line in lines)  # nothing to say


def test_an_anonymous_voicemail_says_so():
    call = {"id": 9, "caller_number": "", "started_at": None}
    events = [{"type": "voicemail", "data": {"node": "vm", "recording": {"duration": 12.2}}}]
    text = call_summary(call, events, agent_name=None, zone=SHANGHAI)
    assert text.splitlines() == ["Call summary (#9)", "Caller: number withheld", "Voicemail: 12 s"]
    assert subject(call, "en", voicemail=True) == "Voicemail from number withheld"
    assert subject(CALL, "zh") == "来电 +8613800138000"
