"""What every speech-to-text engine offers: a recognizer per audio stream.

Engines differ (pocketsphinx ships its English model in the wheel; vosk needs a model
on disk) but the rest of the system only feeds audio and receives utterances, so an
engine is chosen by configuration and nothing else changes. Audio is always 16 kHz,
16-bit signed little-endian mono PCM: what both engines' models expect and what
Asterisk's `slin16` gives after a byte swap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech and what the engine heard in it.

    `start` and `end` are seconds from the beginning of the stream's audio, so a
    transcript can be laid against the call's timeline; `confidence` is 0..1.
    """

    start: float
    end: float
    text: str
    confidence: float


class Recognizer(Protocol):
    """One stream's decoder. Not thread-safe: one stream, fed in order."""

    def accept(self, pcm: bytes) -> list[Utterance]:
        """Feed audio; return the utterances that this audio completed (often none)."""
        ...

    def flush(self) -> list[Utterance]:
        """The stream has ended: return what is still being decoded."""
        ...


class Engine(Protocol):
    """A loaded model. Loading is slow (seconds, hundreds of MB), so it is done once per
    process and every recognizer shares it."""

    name: str
    language: str  # "en", "zh", "ko", ...

    def recognizer(self) -> Recognizer: ...
