"""AgentLegs: routing's Ringer and the softphones' Answering, in one object.

The parts: conversations.py (queue calls from the ring to the hang-up, transfers,
conference, consult), own_calls.py (the dial pad), adoption.py (after a restart),
supervision.py (supervisors listening, whispering, barging in), transcription.py (each
side of a conversation transcribed live).
"""

from __future__ import annotations

from callcenter.calls.adoption import Adoption
from callcenter.calls.own_calls import OwnCalls
from callcenter.calls.supervision import Supervision
from callcenter.calls.transcription import Transcribing


class AgentLegs(OwnCalls, Adoption, Supervision, Transcribing):
    """What routing rings agents through and what their desktops' buttons act on
    (wired in services.py: `routing.ringer`, `softphones.answering`)."""
