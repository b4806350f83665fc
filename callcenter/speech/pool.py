"""The transcription worker pool: decoding in other processes, never in the event loop.

Why processes: decoding is CPU-bound and pocketsphinx holds the GIL while it decodes
(two threads took twice as long as one), so threads would stall the event loop and each
other. Workers are started with `spawn` (never `fork`: the app process has threads, an
event loop and open sockets that a forked child must not inherit) and each loads its
engine once.

Why shedding: call audio and call handling must never wait for transcription. Every
stream is pinned to one worker (a recognizer's state lives there); the parent counts
each worker's backlog (seconds of audio sent minus seconds the worker says it has
processed). A push that would take the backlog past `max_backlog_seconds` is dropped
whole and counted, so the recognizer sees a gap in the audio rather than corrupted
audio, and `push()` returns at once whatever the workers are doing. Utterance times stay
in stream seconds across a gap: the worker is told each chunk's place in the stream.

Wire: the parent sends to a worker through a `multiprocessing.Queue` (its `put` hands
the message to a feeder thread, so it never blocks); each worker answers through its own
one-way pipe, read by one thread per worker that passes results to the event loop with
`call_soon_threadsafe`. A pipe per worker, not one shared queue, because a worker killed
in the middle of a write would leave a shared queue's lock held for every other worker;
a closed pipe is also how the parent learns that a worker died (EOF). A dead worker is
restarted; the audio it had not processed counts as shed for its streams, which carry on
(with a fresh recognizer) on the new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from callcenter.backoff import Backoff
from callcenter.speech.engine import BYTES_PER_SECOND, Recognizer, Utterance
from callcenter.speech.engines import EngineSpec, load_engine, spec_from_settings

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from callcenter.config import Settings

log = logging.getLogger(__name__)

FILE_CHUNK_SECONDS = 2.0  # a whole file is sent in pieces so live audio can interleave
START_TIMEOUT = 120.0  # loading a large vosk model on a busy machine


class WorkerFailed(RuntimeError):
    """A worker could not start, or died while transcribing a file."""


# ---------------------------------------------------------------- the worker process


class Timeline:
    """Maps a recognizer's time (seconds of audio it was fed) to the stream's time.

    They differ after a gap (shed audio, or a worker restart): the recognizer never saw
    the dropped chunks, the stream's clock kept running.
    """

    def __init__(self) -> None:
        self._fed = 0.0
        self._marks: list[tuple[float, float]] = []  # (recognizer time, stream time)

    def add(self, stream_at: float, seconds: float) -> None:
        if not self._marks or abs(self.to_stream(self._fed) - stream_at) > 1e-6:
            self._marks.append((self._fed, stream_at))
        self._fed += seconds

    def to_stream(self, fed_at: float) -> float:
        base_fed, base_stream = 0.0, 0.0
        for mark_fed, mark_stream in self._marks:
            if mark_fed > fed_at + 1e-9:
                break
            base_fed, base_stream = mark_fed, mark_stream
        return base_stream + (fed_at - base_fed)

    def place(self, utterance: Utterance) -> Utterance:
        return Utterance(
            start=round(self.to_stream(utterance.start), 3),
            end=round(self.to_stream(utterance.end), 3),
            text=utterance.text,
            confidence=utterance.confidence,
        )


@dataclass
class _WorkerStream:
    recognizer: Recognizer
    timeline: Timeline = field(default_factory=Timeline)


def worker_main(spec: EngineSpec, inbox: Any, conn: Connection) -> None:
    """A worker process: load the engine, then serve streams until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    try:
        engine = load_engine(spec)
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", engine.name, engine.language))
    streams: dict[int, _WorkerStream] = {}
    while True:
        batch = [inbox.get()]
        with contextlib.suppress(queue.Empty):
            while len(batch) < 64:
                batch.append(inbox.get_nowait())
        processed: dict[int, float] = {}
        for message in batch:
            if message is None:
                conn.send(("done", processed))
                return
            if message[0] == "close" and processed:
                # Acknowledged before "closed": a closed stream leaves no backlog behind.
                conn.send(("done", processed))
                processed = {}
            _serve(engine, streams, message, processed, conn)
        conn.send(("done", processed))


def _serve(
    engine: Any,
    streams: dict[int, _WorkerStream],
    message: tuple[Any, ...],
    processed: dict[int, float],
    conn: Connection,
) -> None:
    kind, sid = message[0], message[1]
    if kind == "open":
        streams[sid] = _WorkerStream(engine.recognizer())
        return
    stream = streams.get(sid)
    if stream is None:
        return
    try:
        if kind == "audio":
            _, _, stream_at, pcm = message
            seconds = len(pcm) / BYTES_PER_SECOND
            stream.timeline.add(stream_at, seconds)
            found = stream.recognizer.accept(pcm)
            processed[sid] = processed.get(sid, 0.0) + seconds
        elif kind == "close":
            del streams[sid]
            found = stream.recognizer.flush()
        else:
            return
    except Exception as exc:  # one bad stream must not take the worker's others down
        log.exception("speech stream %s failed", sid)
        conn.send(("error", sid, f"{type(exc).__name__}: {exc}"))
        found = []
        if kind == "audio":
            processed[sid] = processed.get(sid, 0.0) + len(message[3]) / BYTES_PER_SECOND
    for utterance in found:
        conn.send(("utterance", sid, stream.timeline.place(utterance)))
    if kind == "close":
        conn.send(("closed", sid))


# ---------------------------------------------------------------- the parent side


class Stream:
    """One audio stream (a call leg, a voicemail) pinned to one worker."""

    def __init__(
        self,
        pool: TranscriptionPool,
        sid: int,
        worker: _Worker,
        on_utterance: Callable[[Utterance], None],
    ) -> None:
        self._pool = pool
        self.id = sid
        self.worker = worker
        self.on_utterance = on_utterance
        self.position = 0.0  # seconds of audio pushed, shed included: the stream's clock
        self.in_flight = 0.0  # sent, not yet processed (guarded by the pool's lock)
        self.shed_seconds = 0.0
        self.shed_chunks = 0
        self.closing = False
        self.closed: asyncio.Future[None] = pool._loop().create_future()
        self.progress: asyncio.Event | None = None  # set on each ack, for file streams

    def push(self, pcm16k: bytes) -> None:
        """Hand audio to the worker, or drop it if the worker is too far behind.

        Never blocks and never awaits: called from the RTP path for every packet.
        """
        if self.closing or not pcm16k:
            return
        self._pool._push(self, pcm16k)

    async def close(self) -> None:
        """End of audio: returns once every remaining utterance has been delivered."""
        if not self.closing:
            self.closing = True
            self._pool._send(self.worker, ("close", self.id))
        await asyncio.shield(self.closed)


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: SpawnProcess | None = None
        self.inbox: Any = None
        self.backlog = 0.0
        self.alive = False
        self.ready: asyncio.Future[None] | None = None
        self.streams: dict[int, Stream] = {}
        self.restarts = 0


class TranscriptionPool:
    """Worker processes that transcribe live streams and whole files.

    `pool.open(cb)` gives a `Stream`; `cb(utterance)` is called on the event loop.
    `await pool.transcribe(pcm)` transcribes a whole recording (a voicemail).
    """

    def __init__(
        self,
        settings_or_spec: Settings | EngineSpec,
        workers: int | None = None,
        max_backlog_seconds: float | None = None,
        *,
        restart_backoff: Backoff | None = None,
    ) -> None:
        if isinstance(settings_or_spec, EngineSpec):
            self.spec = settings_or_spec
            default_workers, default_backlog = 1, 5.0
        else:
            self.spec = spec_from_settings(settings_or_spec)
            default_workers = settings_or_spec.speech_workers
            default_backlog = settings_or_spec.speech_max_backlog_seconds
        self.size = workers if workers is not None else default_workers
        self.max_backlog = (
            max_backlog_seconds if max_backlog_seconds is not None else default_backlog
        )
        if self.size < 1 or self.max_backlog <= 0:
            raise ValueError("a pool needs >= 1 worker and a positive backlog limit")
        self.engine_name = self.spec.engine
        self.language = ""
        self._context = multiprocessing.get_context("spawn")
        self._workers = [_Worker(i) for i in range(self.size)]
        self._streams: dict[int, Stream] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._state = "new"
        self._started: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._backoff = restart_backoff or Backoff(initial=0.5, max=30.0)
        self.shed_seconds = 0.0
        self.shed_chunks = 0

    # -- lifecycle

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._event_loop is None:
            raise RuntimeError("the pool is not started")
        return self._event_loop

    def _set_state(self, state: str) -> None:
        log.debug("transcription pool %s -> %s", self._state, state)
        self._state = state

    async def start(self) -> None:
        """Start the workers and wait until each has loaded its engine."""
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        self._event_loop = asyncio.get_running_loop()
        self._started = self._event_loop.create_future()
        self._set_state("starting")
        try:
            for worker in self._workers:
                self._spawn(worker)
            await asyncio.wait_for(
                asyncio.gather(*(w.ready for w in self._workers if w.ready)), START_TIMEOUT
            )
        except BaseException as exc:
            await self.stop()
            self._started.set_exception(exc)
            self._started.exception()  # the caller gets it; no "never retrieved" warning
            raise
        self._set_state("running")
        self._started.set_result(None)

    async def stop(self) -> None:
        """Stop every worker (idempotent). Streams still open are closed without a flush."""
        if self._state in ("stopping", "stopped"):
            return
        self._set_state("stopping")
        for task in list(self._tasks):
            task.cancel()
        for worker in self._workers:
            if worker.process is not None and worker.alive:
                self._send(worker, None)
        for worker in self._workers:
            process = worker.process
            if process is None:
                continue
            await asyncio.to_thread(process.join, 5.0)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5.0)
            worker.alive = False
            if worker.inbox is not None:
                worker.inbox.close()
                worker.inbox.cancel_join_thread()
        for stream in list(self._streams.values()):
            if stream.progress is not None:
                stream.progress.set()
            stream.closing = True
            if not stream.closed.done():
                stream.closed.set_result(None)
        self._streams.clear()
        self._set_state("stopped")

    def _spawn(self, worker: _Worker) -> None:
        loop = self._loop()
        receive, send = self._context.Pipe(duplex=False)
        # A fresh inbox each time: a killed worker may have died holding the old one's lock.
        worker.inbox = self._context.Queue()
        worker.ready = loop.create_future()
        process = self._context.Process(
            target=worker_main,
            args=(self.spec, worker.inbox, send),
            name=f"speech-worker-{worker.index}",
            daemon=True,
        )
        process.start()
        send.close()  # the child holds the only write end: its exit is our EOF
        worker.process = process
        worker.alive = True
        worker.backlog = 0.0
        for stream in worker.streams.values():  # streams carried over from a dead worker
            worker.inbox.put(("open", stream.id))
            if stream.closing:
                worker.inbox.put(("close", stream.id))
        threading.Thread(
            target=self._read,
            args=(worker, process, receive),
            name=f"speech-reader-{worker.index}",
            daemon=True,
        ).start()

    # -- streams

    def open(self, on_utterance: Callable[[Utterance], None]) -> Stream:
        """A new stream on the worker with the fewest streams (then the least backlog)."""
        if self._state != "running":
            raise RuntimeError(f"the transcription pool is {self._state}")
        worker = min(self._workers, key=lambda w: (len(w.streams), w.backlog, w.index))
        return self._open_on(worker, on_utterance)

    def _open_on(self, worker: _Worker, on_utterance: Callable[[Utterance], None]) -> Stream:
        stream = Stream(self, next(self._ids), worker, on_utterance)
        self._streams[stream.id] = stream
        worker.streams[stream.id] = stream
        self._send(worker, ("open", stream.id))
        return stream

    def _push(self, stream: Stream, pcm: bytes) -> None:
        seconds = len(pcm) / BYTES_PER_SECOND
        at = stream.position
        stream.position += seconds
        worker = stream.worker
        with self._lock:
            accept = worker.alive and worker.backlog + seconds <= self.max_backlog
            if accept:
                worker.backlog += seconds
                stream.in_flight += seconds
        if accept:
            self._send(worker, ("audio", stream.id, at, pcm))
        else:
            self._shed(stream, seconds, 1)

    def _shed(self, stream: Stream, seconds: float, chunks: int) -> None:
        stream.shed_seconds += seconds
        stream.shed_chunks += chunks
        self.shed_seconds += seconds
        self.shed_chunks += chunks

    def _send(self, worker: _Worker, message: tuple[Any, ...] | None) -> None:
        if worker.alive and worker.inbox is not None:
            with contextlib.suppress(ValueError, OSError):  # queue closed by a stop
                worker.inbox.put(message)

    async def transcribe(self, pcm16k: bytes) -> list[Utterance]:
        """A whole recording's utterances. Waits its turn behind live audio, never shed."""
        if self._state != "running":
            raise RuntimeError(f"the transcription pool is {self._state}")
        found: list[Utterance] = []
        worker = min(self._workers, key=lambda w: (w.backlog, len(w.streams), w.index))
        stream = self._open_on(worker, found.append)
        stream.progress = asyncio.Event()
        chunk = int(FILE_CHUNK_SECONDS * BYTES_PER_SECOND)
        restarts = worker.restarts
        for offset in range(0, len(pcm16k), chunk):
            piece = pcm16k[offset : offset + chunk]
            seconds = len(piece) / BYTES_PER_SECOND
            with self._lock:
                worker.backlog += seconds
                stream.in_flight += seconds
            self._send(worker, ("audio", stream.id, stream.position, piece))
            stream.position += seconds
            # One piece in flight at a time: live streams' audio queued meanwhile on the
            # same worker is decoded between our pieces instead of after the whole file.
            while stream.in_flight > 1e-9 and worker.restarts == restarts:
                stream.progress.clear()
                await stream.progress.wait()
                if self._state != "running":
                    raise WorkerFailed("the transcription pool stopped")
            if worker.restarts != restarts:
                self._forget(stream)
                raise WorkerFailed("the speech worker died while transcribing a file")
        await stream.close()
        if worker.restarts != restarts:
            raise WorkerFailed("the speech worker died while transcribing a file")
        return found

    def stats(self) -> dict[str, Any]:
        with self._lock:
            backlog = [round(w.backlog, 3) for w in self._workers]
        return {
            "engine": self.engine_name,
            "language": self.language,
            "state": self._state,
            "workers": self.size,
            "workers_alive": sum(1 for w in self._workers if w.alive),
            "worker_restarts": sum(w.restarts for w in self._workers),
            "streams_open": len(self._streams),
            "backlog_seconds": round(max(backlog, default=0.0), 3),
            "backlog_seconds_by_worker": backlog,
            "max_backlog_seconds": self.max_backlog,
            "shed_seconds_total": round(self.shed_seconds, 3),
            "shed_chunks_total": self.shed_chunks,
        }

    def _forget(self, stream: Stream) -> None:
        self._streams.pop(stream.id, None)
        stream.worker.streams.pop(stream.id, None)
        stream.closing = True
        if not stream.closed.done():
            stream.closed.set_result(None)

    # -- results (reader threads -> event loop)

    def _read(self, worker: _Worker, process: SpawnProcess, conn: Connection) -> None:
        """One worker's answers, on a thread of its own until the worker's pipe closes."""
        loop = self._loop()
        try:
            while True:
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    break
                kind = message[0]
                if kind == "done":
                    self._acknowledge(worker, message[1], loop)
                else:
                    loop.call_soon_threadsafe(self._on_message, worker, process, message)
        finally:
            conn.close()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(self._on_exit, worker, process)

    def _acknowledge(
        self, worker: _Worker, processed: dict[int, float], loop: asyncio.AbstractEventLoop
    ) -> None:
        wake = []
        with self._lock:
            for sid, seconds in processed.items():
                worker.backlog = max(0.0, worker.backlog - seconds)
                stream = worker.streams.get(sid)
                if stream is not None:
                    stream.in_flight = max(0.0, stream.in_flight - seconds)
                    if stream.progress is not None:
                        wake.append(stream.progress)
        for event in wake:
            loop.call_soon_threadsafe(event.set)

    def _on_message(self, worker: _Worker, process: SpawnProcess, message: tuple[Any, ...]) -> None:
        if process is not worker.process:
            return  # a late word from a worker already replaced
        kind = message[0]
        if kind == "ready":
            self.engine_name, self.language = message[1], message[2]
            self._backoff.reset()
            if worker.ready is not None and not worker.ready.done():
                worker.ready.set_result(None)
        elif kind == "failed":
            log.error("speech worker %s could not load its engine: %s", worker.index, message[1])
            if self._state == "starting" and worker.ready and not worker.ready.done():
                worker.ready.set_exception(WorkerFailed(message[1]))
        elif kind == "utterance":
            stream = self._streams.get(message[1])
            if stream is not None:
                try:
                    stream.on_utterance(message[2])
                except Exception:
                    log.exception("utterance callback of speech stream %s failed", stream.id)
        elif kind == "closed":
            stream = self._streams.get(message[1])
            if stream is not None:
                self._forget(stream)
        elif kind == "error":
            log.error("speech stream %s: %s", message[1], message[2])

    def _on_exit(self, worker: _Worker, process: SpawnProcess) -> None:
        if process is not worker.process or self._state in ("stopping", "stopped"):
            return
        worker.alive = False
        if worker.inbox is not None:
            # Nobody reads it any more: its feeder thread must not hold up our exit.
            worker.inbox.cancel_join_thread()
            worker.inbox.close()
        with self._lock:
            lost = [(s, s.in_flight) for s in worker.streams.values()]
            for stream, _ in lost:
                stream.in_flight = 0.0
            worker.backlog = 0.0
        for stream, seconds in lost:
            if seconds > 0:
                self._shed(stream, seconds, 1)
        worker.restarts += 1
        for stream in worker.streams.values():
            if stream.progress is not None:
                stream.progress.set()
        if self._state == "starting" and worker.ready and not worker.ready.done():
            worker.ready.set_exception(WorkerFailed("the speech worker exited while loading"))
            return  # start() reports it; a worker that cannot load is not restarted
        log.error("speech worker %s (pid %s) died; restarting it", worker.index, process.pid)
        task = asyncio.get_running_loop().create_task(self._restart(worker, process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart(self, worker: _Worker, process: SpawnProcess) -> None:
        await asyncio.to_thread(process.join, 5.0)  # reap it
        delay = self._backoff.next_delay()
        await asyncio.sleep(delay)
        if self._state == "running" and worker.process is process:
            self._spawn(worker)
