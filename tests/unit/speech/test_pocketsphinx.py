"""pocketsphinx free-form recognition through the real pool, on real and synthetic speech.

WER bounds are the measured values (docs/speech.md) with a margin: real human speech
(pocketsphinx-testdata) came out at 0.31, espeak-ng over a telephone line at
0.81 (free-form pocketsphinx is poor on robotic speech; see docs/speech.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from callcenter.speech.engine import Utterance
from callcenter.speech.engines import EngineSpec
from callcenter.speech.pocketsphinx_engine import PocketsphinxEngine
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.wer import corpus_wer
from tests.support.speech import Recording, espeak_recordings, human_recordings

PACKET = 640  # 20 ms, what an RTP packet of slin16 carries


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool() -> AsyncIterator[TranscriptionPool]:
    pool = TranscriptionPool(EngineSpec("pocketsphinx"), workers=1, max_backlog_seconds=60)
    await pool.start()
    yield pool
    await pool.stop()


async def _stream(pool: TranscriptionPool, recording: Recording) -> list[Utterance]:
    heard: list[Utterance] = []
    stream = pool.open(heard.append)
    for offset in range(0, len(recording.pcm), PACKET):
        stream.push(recording.pcm[offset : offset + PACKET])
    await stream.close()
    assert stream.shed_chunks == 0
    return heard


def _check_shape(heard: list[Utterance], recording: Recording) -> None:
    assert heard, f"nothing heard in {recording.name}"
    previous_end = 0.0
    for utterance in heard:
        assert previous_end <= utterance.start < utterance.end <= recording.seconds + 0.05
        assert 0.0 <= utterance.confidence <= 1.0
        previous_end = utterance.end


@pytest.mark.asyncio(loop_scope="session")
async def test_real_recordings_through_the_pool(pool):
    pairs = []
    for recording in human_recordings():
        heard = await _stream(pool, recording)
        _check_shape(heard, recording)
        pairs.append((recording.text, " ".join(u.text for u in heard)))
    assert corpus_wer(pairs) <= 0.45, pairs


@pytest.mark.asyncio(loop_scope="session")
async def test_telephone_espeak_through_the_pool(pool):
    pairs = []
    for recording in espeak_recordings("en"):
        heard = await _stream(pool, recording)
        _check_shape(heard, recording)
        assert heard[0].start >= 0.3  # the 0.5 s of line silence before the words
        pairs.append((recording.text, " ".join(u.text for u in heard)))
    assert corpus_wer(pairs) <= 0.9, pairs


@pytest.mark.asyncio(loop_scope="session")
async def test_pauses_split_utterances_in_stream_time(pool):
    first, second = human_recordings()[:2]
    gap = bytes(32000 * 2)  # two seconds of silence between two sentences
    both = Recording("both", first.pcm + gap + second.pcm, f"{first.text} {second.text}")
    heard = await _stream(pool, both)
    _check_shape(heard, both)
    assert len(heard) >= 2
    assert heard[0].end <= first.seconds + 0.05
    assert heard[-1].start >= first.seconds + 1.5


@pytest.mark.asyncio(loop_scope="session")
async def test_transcribe_a_file_matches_streaming(pool):
    recording = human_recordings()[0]
    heard = await pool.transcribe(recording.pcm)
    _check_shape(heard, recording)
    assert corpus_wer([(recording.text, " ".join(u.text for u in heard))]) <= 0.5


def test_silence_is_no_utterance():
    recognizer = PocketsphinxEngine().recognizer()
    assert recognizer.accept(bytes(32000 * 2)) + recognizer.flush() == []


def test_utterances_beyond_the_decoders_are_decoded_whole():
    # One streaming decoder: the second stream's overlapping utterance waits in a buffer
    # and is decoded at its end by the spare decoder, same words either way.
    engine = PocketsphinxEngine(max_decoders=1)
    recording = human_recordings()[0]
    a, b = engine.recognizer(), engine.recognizer()
    heard_a: list[Utterance] = []
    heard_b: list[Utterance] = []
    for offset in range(0, len(recording.pcm), PACKET):
        heard_a += a.accept(recording.pcm[offset : offset + PACKET])
        heard_b += b.accept(recording.pcm[offset : offset + PACKET])
    heard_a += a.flush()
    heard_b += b.flush()
    assert [u.text for u in heard_a] and [u.text for u in heard_b]
    assert corpus_wer([(recording.text, " ".join(u.text for u in heard_b))]) <= 0.5
    assert (heard_a[0].start, heard_a[0].end) == (heard_b[0].start, heard_b[0].end)


@pytest.mark.asyncio(loop_scope="session")
async def test_overload_sheds_and_every_stream_closes():
    # Eight streams of 3 s pushed at once to one worker allowed 1 s of backlog: far more
    # than it can decode in time. Pushes return at once, audio is shed, all streams close.
    pool = TranscriptionPool(EngineSpec("pocketsphinx"), workers=1, max_backlog_seconds=1.0)
    await pool.start()
    try:
        recording = human_recordings()[0]
        streams = [pool.open(lambda u: None) for _ in range(8)]
        slowest = 0.0
        for offset in range(0, len(recording.pcm), PACKET):
            for stream in streams:
                began = time.perf_counter()
                stream.push(recording.pcm[offset : offset + PACKET])
                slowest = max(slowest, time.perf_counter() - began)
        assert slowest < 0.001
        stats = pool.stats()
        assert stats["shed_seconds_total"] > 0
        assert stats["shed_chunks_total"] == sum(s.shed_chunks for s in streams)
        async with asyncio.timeout(60):
            await asyncio.gather(*(s.close() for s in streams))
        assert pool.stats()["streams_open"] == 0
    finally:
        await pool.stop()


def test_a_stream_cut_mid_sentence_ends_its_utterance_with_the_audio():
    recording = human_recordings()[1]  # 7.1 s, speaking from 0.24 s to the end
    recognizer = PocketsphinxEngine().recognizer()
    heard = recognizer.accept(recording.pcm[: 32000 * 4]) + recognizer.flush()
    assert len(heard) == 1
    assert heard[0].start < 0.5 and heard[0].end == pytest.approx(4.0)
    assert heard[0].text.startswith("mr john")
