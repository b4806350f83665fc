"""Speech menus: which of a few phrases the caller said, with pocketsphinx.

Recognition is restricted to the menu's phrases (a JSGF grammar), which is what makes
an offline recognizer dependable on telephone audio: free-form it gets few words right,
against a short list it picks the right one. Its wheel ships an English model only; a
flow in another language keeps to the keypad options. Phrases of two or more words are
recognised far more reliably than single words.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = frozenset({"en"})
_WORD = re.compile(r"[a-z']+")


def normalize(phrase: str) -> str:
    return " ".join(_WORD.findall(phrase.lower()))


def grammar(phrases: Sequence[str]) -> str:
    choices = " | ".join(normalize(p) for p in phrases if normalize(p))
    return f"#JSGF V1.0;\ngrammar menu;\npublic <choice> = {choices} ;\n"


# Silence trimmed from both ends (sox `silence`, then the same on the reversed audio).
# The decoder normalises its features over the whole utterance: seconds of line silence
# around a short phrase skew that average and the phrase is missed.
_TRIM = ("silence", "1", "0.02", "0.5%")


def telephone_to_16k(path: Path) -> bytes:
    """The recording (8 kHz) as 16 kHz 16-bit mono PCM, what the model was trained on."""
    result = subprocess.run(
        ["sox", str(path), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
         "-t", "raw", "-", *_TRIM, "reverse", *_TRIM, "reverse"],
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout


class PhraseRecognizer:
    """Decodes audio against a list of phrases; decoders are kept per list (0.4 s to make)."""

    def __init__(self) -> None:
        self._decoders: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()  # a decoder is not thread-safe; recognitions are short

    def recognize(self, pcm16k: bytes, phrases: Sequence[str]) -> str | None:
        """The phrase (as written in the flow) the audio matches, or None."""
        by_words = {normalize(p): p for p in phrases if normalize(p)}
        if not by_words or not pcm16k:
            return None
        with self._lock:
            decoder = self._decoder(tuple(sorted(by_words)))
            decoder.start_utt()
            decoder.process_raw(pcm16k, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
        said = hyp.hypstr.strip() if hyp is not None else ""
        return by_words.get(said)

    def _decoder(self, key: tuple[str, ...]) -> Any:
        decoder = self._decoders.get(key)
        if decoder is None:
            from pocketsphinx import Decoder

            decoder = Decoder(samprate=16000, lm=None, loglevel="FATAL")
            decoder.add_jsgf_string("menu", grammar(key))
            decoder.activate_search("menu")
            self._decoders[key] = decoder
        return decoder


class RecordingRecognizer:
    """Recognises a phrase in a recording Asterisk has just stored (by its name)."""

    def __init__(self, recording_path: Callable[[str], Path]) -> None:
        self.recording_path = recording_path
        self.recognizer = PhraseRecognizer()

    def supports(self, language: str) -> bool:
        return language in SUPPORTED_LANGUAGES

    async def recognize(self, name: str, phrases: Sequence[str]) -> str | None:
        path = self.recording_path(name)
        try:
            return await asyncio.to_thread(self._recognize_file, path, list(phrases))
        finally:
            path.unlink(missing_ok=True)

    def _recognize_file(self, path: Path, phrases: list[str]) -> str | None:
        if not path.exists():
            log.warning("speech: recording %s is missing", path)
            return None
        return self.recognizer.recognize(telephone_to_16k(path), phrases)
