"""Tone detection in WAV files: proof that one side heard what the other sent.

Each side of a test call sends a tone of its own frequency; finding the other side's
tone in what a side heard proves the audio path in that direction (silence, music on
hold or one's own echo would not pass).
"""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

BLOCK_SECONDS = 0.05
MIN_RMS = 200.0  # below this a block is silence, whatever its spectrum


def seconds_of_tone(path: Path, freq: float, *, share: float = 0.6) -> float:
    """How many seconds of `path` are dominated by a tone at `freq` (Goertzel per block).

    A block counts when the tone carries at least `share` of the block's energy.
    """
    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit samples, got {8 * width}-bit")
    samples = array("h", frames)[::channels]
    block = max(1, int(rate * BLOCK_SECONDS))
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    found = 0
    for start in range(0, len(samples) - block + 1, block):
        chunk = samples[start : start + block]
        energy = sum(x * x for x in chunk)
        if energy < MIN_RMS * MIN_RMS * block:
            continue
        s1 = s2 = 0.0
        for x in chunk:
            s1, s2 = x + coeff * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2  # |X(freq)|^2
        if power / (energy * block / 2) >= share:
            found += 1
    return found * block / rate
