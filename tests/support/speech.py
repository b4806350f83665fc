"""Speech with known words, for tests and bench/speech.py.

Two sources: Debian's pocketsphinx-testdata (real human recordings with their
transcripts) and espeak-ng made telephone-like (8 kHz u-law, back to 16 kHz): what a
recognizer hears from a call.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

TESTDATA = Path("/usr/share/pocketsphinx/test/data")

# espeak-ng phrases a contact center hears; with their words for WER.
ESPEAK_EN = [
    "I want to talk to an agent",
    "my order has not arrived yet",
    "please call me back tomorrow morning",
    "I would like to cancel my subscription",
]
ESPEAK_KO = ["안녕하세요", "감사합니다", "주문을 취소하고 싶습니다"]


@dataclass(frozen=True)
class Recording:
    name: str
    pcm: bytes  # 16 kHz s16le mono
    text: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 32000


def human_recordings() -> list[Recording]:
    """Real speech: librivox sentences and "go forward ten meters" (about 27 s in all)."""
    if not TESTDATA.is_dir():
        raise RuntimeError("apt-get install pocketsphinx-testdata (real test recordings)")
    found = [
        Recording("goforward", (TESTDATA / "goforward.raw").read_bytes(), "go forward ten meters")
    ]
    for line in (TESTDATA / "librivox" / "transcription").read_text().splitlines():
        words, _, name = line.rpartition("(")
        name = name.rstrip(")").strip()
        text = words.replace("<s>", "").replace("</s>", "").strip()
        with wave.open(str(TESTDATA / "librivox" / f"{name}.wav")) as wav:
            found.append(Recording(name, wav.readframes(wav.getnframes()), text))
    return found


def espeak_telephone(
    text: str, *, voice: str = "en-us+m3", speed: int = 140, before: float = 0.5, after: float = 0.8
) -> bytes:
    """espeak-ng's speech through a telephone line: 8 kHz u-law, back to 16 kHz PCM.

    en-us+m3 at 140 words a minute: of the voices tried, free-form pocketsphinx made the
    fewest errors on it (WER 0.65, against 1.0 for the default voice and speed).
    """
    with tempfile.TemporaryDirectory() as tmp:
        spoken, phone = Path(tmp) / "spoken.wav", Path(tmp) / "phone.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(spoken), text], check=True
        )
        subprocess.run(
            ["sox", "-D", str(spoken), "-r", "8000", "-c", "1", "-e", "u-law", str(phone),
             "pad", str(before), str(after)],
            check=True,
        )  # fmt: skip
        result = subprocess.run(
            ["sox", "-D", str(phone), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
             "-t", "raw", "-"],
            capture_output=True, check=True,
        )  # fmt: skip
        return result.stdout


def espeak_recordings(language: str = "en") -> list[Recording]:
    phrases, voice = (ESPEAK_KO, "ko") if language == "ko" else (ESPEAK_EN, "en-us+m3")
    return [
        Recording(f"espeak-{language}-{i}", espeak_telephone(text, voice=voice), text)
        for i, text in enumerate(phrases)
    ]
