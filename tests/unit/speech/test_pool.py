"""The transcription pool's bookkeeping, in real worker processes with a fake engine.

The fake engine (fake_engine.py) decodes nothing but takes time; what is tested is the
pool: back-pressure, shedding, stream timing across gaps, stats, worker restarts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from callcenter.backoff import Backoff
from callcenter.speech.engine import BYTES_PER_SECOND, Utterance
from callcenter.speech.engines import EngineSpec
from callcenter.speech.pool import Timeline, TranscriptionPool
from tests.support.waiting import eventually

FAKE = "tests.unit.speech.fake_engine:make"
CHUNK = bytes(BYTES_PER_SECOND // 10)  # 0.1 s of audio


def test_timeline_maps_fed_time_across_gaps():
    line = Timeline()
    line.add(0.0, 1.0)  # stream 0..1 fed
    line.add(3.0, 1.0)  # 1..3 shed; stream 3..4 fed as recognizer 1..2
    line.add(4.0, 0.5)  # contiguous: no new mark
    assert line.to_stream(0.5) == 0.5
    assert line.to_stream(1.5) == 3.5
    assert line.to_stream(2.25) == pytest.approx(4.25)
    placed = line.place(Utterance(0.5, 1.5, "x", 0.9))
    assert (placed.start, placed.end, placed.text) == (0.5, 3.5, "x")


async def test_a_stream_within_its_backlog_loses_nothing():
    pool = TranscriptionPool(EngineSpec(FAKE, model="0.05"), workers=1, max_backlog_seconds=5)
    await pool.start()
    try:
        heard: list[Utterance] = []
        stream = pool.open(heard.append)
        for _ in range(25):
            stream.push(CHUNK)
        await stream.close()
        assert [u.text for u in heard] == ["1", "2", "rest"]
        assert heard[-1].end == pytest.approx(2.5)
        stats = pool.stats()
        assert stats["shed_chunks_total"] == 0 and stats["streams_open"] == 0
        assert stats["backlog_seconds"] == pytest.approx(0.0, abs=1e-6)
        assert stats["engine"] == "fake" and stats["workers_alive"] == 1
    finally:
        await pool.stop()


async def test_a_slow_worker_sheds_whole_chunks_and_push_never_waits():
    # The worker decodes at half real time; 1 s of backlog allowed; 6 s pushed at once.
    pool = TranscriptionPool(EngineSpec(FAKE, model="2.0"), workers=1, max_backlog_seconds=1.0)
    await pool.start()
    try:
        heard: list[Utterance] = []
        stream = pool.open(heard.append)
        slowest = 0.0
        for _ in range(60):
            began = time.perf_counter()
            stream.push(CHUNK)
            slowest = max(slowest, time.perf_counter() - began)
        assert slowest < 0.001
        assert stream.shed_chunks == 50  # 10 chunks fit in the 1 s backlog
        assert stream.shed_seconds == pytest.approx(5.0)
        assert pool.stats()["backlog_seconds"] == pytest.approx(1.0, abs=0.11)
        await stream.close()
        stats = pool.stats()
        assert stats["shed_chunks_total"] == 50 and stats["shed_seconds_total"] == 5.0
        assert stats["backlog_seconds"] == pytest.approx(0.0, abs=1e-6)
        assert [u.text for u in heard] == ["1"]  # the 1 s the worker got
    finally:
        await pool.stop()


async def test_after_a_gap_utterances_keep_stream_time():
    pool = TranscriptionPool(EngineSpec(FAKE, model="2.0"), workers=1, max_backlog_seconds=1.0)
    await pool.start()
    try:
        heard: list[Utterance] = []
        stream = pool.open(heard.append)
        for _ in range(30):  # 1 s accepted, 2 s shed
            stream.push(CHUNK)
        await eventually(lambda: pool.stats()["backlog_seconds"] == 0)  # caught up
        for _ in range(10):  # stream time 3..4 s
            stream.push(CHUNK)
        await stream.close()
        assert stream.shed_seconds == pytest.approx(2.0)
        assert [(u.text, u.start, u.end) for u in heard] == [("1", 0.0, 1.0), ("2", 3.0, 4.0)]
    finally:
        await pool.stop()


async def test_streams_spread_over_workers_and_stats_count_them():
    pool = TranscriptionPool(EngineSpec(FAKE, model="0"), workers=2, max_backlog_seconds=5)
    await pool.start()
    try:
        streams = [pool.open(lambda u: None) for _ in range(4)]
        assert sorted(s.worker.index for s in streams) == [0, 0, 1, 1]
        assert pool.stats()["streams_open"] == 4
        await asyncio.gather(*(s.close() for s in streams))
        assert pool.stats()["streams_open"] == 0
    finally:
        await pool.stop()


async def test_a_killed_worker_is_restarted_and_its_streams_carry_on():
    pool = TranscriptionPool(
        EngineSpec(FAKE, model="1.0"),
        workers=1,
        max_backlog_seconds=3.0,
        restart_backoff=Backoff(initial=0.05, max=0.1),
    )
    await pool.start()
    try:
        heard: list[Utterance] = []
        stream = pool.open(heard.append)
        for _ in range(20):
            stream.push(CHUNK)
        worker = stream.worker
        old_pid = worker.process.pid
        os.kill(old_pid, signal.SIGKILL)
        await eventually(lambda: pool.stats()["worker_restarts"] == 1, within=10)
        await eventually(lambda: worker.process.pid != old_pid and worker.ready.done(), within=30)
        lost = stream.shed_seconds
        assert 0 < lost <= 2.0 + 1e-9  # what it had not decoded when it died
        for _ in range(15):
            stream.push(CHUNK)
        await stream.close()
        assert heard and heard[-1].end == pytest.approx(3.5)  # stream time, after the gap
        assert pool.stats()["workers_alive"] == 1
    finally:
        await pool.stop()


async def test_transcribe_a_whole_file_and_stop_is_idempotent():
    pool = TranscriptionPool(EngineSpec(FAKE, model="0.01"), workers=1)
    await pool.start()
    heard = await pool.transcribe(bytes(BYTES_PER_SECOND * 5 + BYTES_PER_SECOND // 2))
    assert [u.text for u in heard] == ["1", "2", "3", "4", "5", "rest"]
    assert pool.stats()["shed_chunks_total"] == 0
    await pool.stop()
    await pool.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        pool.open(lambda u: None)


async def test_an_engine_that_cannot_load_fails_start():
    pool = TranscriptionPool(EngineSpec("vosk", model="/nonexistent/model"), workers=1)
    with pytest.raises(Exception, match="does not exist"):
        await pool.start()
    assert pool.stats()["workers_alive"] == 0
