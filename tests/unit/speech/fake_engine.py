"""A tiny engine for the pool's pure-logic tests: time passes, no speech is decoded.

It "hears" one utterance per full second of audio it is fed (text: the count), timed in
the seconds it was fed, and decodes at `spec.model` times real time (by sleeping, so a
slow worker costs no CPU on a shared machine). Loaded by the real pool in real worker
processes through `EngineSpec("tests.unit.speech.fake_engine:make", model="2.0")`.
"""

from __future__ import annotations

import time

from callcenter.speech.engine import BYTES_PER_SECOND, Utterance
from callcenter.speech.engines import EngineSpec


class FakeRecognizer:
    def __init__(self, rtf: float) -> None:
        self.rtf = rtf
        self.fed = 0
        self.heard = 0

    def accept(self, pcm: bytes) -> list[Utterance]:
        time.sleep(len(pcm) / BYTES_PER_SECOND * self.rtf)
        self.fed += len(pcm)
        out = []
        while (self.heard + 1) * BYTES_PER_SECOND <= self.fed:
            self.heard += 1
            out.append(Utterance(self.heard - 1.0, float(self.heard), str(self.heard), 0.5))
        return out

    def flush(self) -> list[Utterance]:
        end = self.fed / BYTES_PER_SECOND
        if end <= self.heard:
            return []
        return [Utterance(float(self.heard), end, "rest", 0.5)]


class FakeEngine:
    name = "fake"
    language = "en"

    def __init__(self, rtf: float) -> None:
        self.rtf = rtf

    def recognizer(self) -> FakeRecognizer:
        return FakeRecognizer(self.rtf)


def make(spec: EngineSpec) -> FakeEngine:
    return FakeEngine(float(spec.model or 0.0))
