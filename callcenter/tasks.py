"""Supervised background tasks and a keyed serial runner.

asyncio keeps only weak references to tasks: a task nobody holds can be garbage
collected mid-flight, and an exception in a task nobody awaits is only reported (as
"Task exception was never retrieved") when it is collected, without saying which call
it belonged to. `TaskSupervisor` holds every task it spawns, logs failures with the
task's name as soon as they happen, and cancels and awaits everything on `stop()`.

`SerialExecutor` gives the per-channel ordering telephony needs: ARI events for one
channel (StasisStart, ChannelDtmfReceived, StasisEnd ...) must be handled one after
another, in arrival order, while different channels proceed concurrently.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

ErrorCallback = Callable[[Any, BaseException], Awaitable[None] | None]


class SupervisorStopped(RuntimeError):
    """Raised by `spawn()` after `stop()`: nothing may outlive its owner."""


class TaskSupervisor:
    """Owns named tasks: keeps references, logs failures, cancels and awaits on stop."""

    def __init__(self, name: str = "tasks", *, logger: logging.Logger | None = None) -> None:
        self.name = name
        self._log = logger or log
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """A snapshot of the running tasks."""
        return frozenset(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run `coro` as a task named `name`; its failure is logged with that name."""
        if self._stopped:
            coro.close()  # never started: close it so Python does not warn "never awaited"
            raise SupervisorStopped(f"{self.name}: stopped, cannot spawn {name!r}")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # also marks it retrieved: no "never retrieved" noise
        if exc is not None:
            self._log.error("%s: task %r failed: %r", self.name, task.get_name(), exc, exc_info=exc)

    async def stop(self) -> None:
        """Cancel every task and wait until all have finished. Idempotent.

        Loops because a task being cancelled may still have spawned another one.
        """
        self._stopped = True
        current = asyncio.current_task()
        while pending := [t for t in self._tasks if t is not current]:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def every(
    seconds: float, work: Callable[[], Awaitable[object]], *, log: logging.Logger, what: str
) -> None:
    """Run `work` every `seconds`, for good: a round that fails is logged and the next
    one comes on time (a timer that died on one bad ticket would go quiet unnoticed)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)


@dataclass
class _Job(Generic[T]):
    coro: Coroutine[Any, Any, T]
    future: asyncio.Future[T]
    name: str


@dataclass
class _Lane:
    jobs: deque[_Job[Any]] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    running: bool = False


class SerialExecutor(Generic[K]):
    """Runs jobs with the same key one after another, in submission order.

    - Different keys run concurrently; each key has one supervised worker task that
      exists only while the key has work: idle keys are dropped, so memory is bounded
      by the number of keys with pending work (not by every channel ever seen).
    - A failing job is logged, reported to `on_error(key, exc)` (sync or async), and the
      next job for that key still runs.
    - `submit()` is synchronous on purpose: call it from an event handler before any
      `await` and the order of submission is the order of arrival.
    """

    def __init__(
        self,
        supervisor: TaskSupervisor,
        *,
        on_error: ErrorCallback | None = None,
        name: str = "serial",
    ) -> None:
        self._supervisor = supervisor
        self._on_error = on_error
        self.name = name
        self._lanes: dict[K, _Lane] = {}

    def __len__(self) -> int:
        """Number of keys that currently have queued or running work."""
        return len(self._lanes)

    def pending(self, key: K) -> int:
        """Jobs queued for `key`, the running one included."""
        lane = self._lanes.get(key)
        if lane is None:
            return 0
        return len(lane.jobs) + (1 if lane.running else 0)

    def submit(
        self, key: K, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Future[T]:
        """Queue `coro` behind earlier jobs of `key`; the future gets its outcome.

        Nobody has to await the future: failures are already logged and reported.
        """
        loop = asyncio.get_running_loop()
        label = name or str(getattr(coro, "__qualname__", None) or repr(coro))
        job: _Job[T] = _Job(coro, loop.create_future(), label)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.jobs.append(job)
        if lane.worker is None:
            try:
                lane.worker = self._supervisor.spawn(
                    self._drain(key, lane), name=f"{self.name}:{key}"
                )
            except SupervisorStopped:
                del self._lanes[key]
                coro.close()
                raise
        return job.future

    async def _drain(self, key: K, lane: _Lane) -> None:
        try:
            while lane.jobs:
                job = lane.jobs.popleft()
                lane.running = True
                await self._run(key, job)
                lane.running = False
        finally:
            # Reached with the lane empty, or on cancellation: then drop what is left.
            for job in lane.jobs:
                job.coro.close()
                job.future.cancel()
            lane.jobs.clear()
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _run(self, key: K, job: _Job[Any]) -> None:
        try:
            result = await job.coro
        except asyncio.CancelledError as exc:
            job.future.cancel()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the worker itself is being stopped
            # The job was cancelled from inside (e.g. it awaited a cancelled future):
            # a job failure like any other; the lane goes on.
            await self._report(key, job, exc)
        except Exception as exc:
            if not job.future.done():  # the submitter may have cancelled its future
                job.future.set_exception(exc)
                job.future.exception()  # reported below; do not warn "never retrieved"
            await self._report(key, job, exc)
        else:
            if not job.future.done():
                job.future.set_result(result)

    async def _report(self, key: K, job: _Job[Any], exc: BaseException) -> None:
        log.error("%s: job %r for key %r failed: %r", self.name, job.name, key, exc, exc_info=exc)
        if self._on_error is None:
            return
        try:
            outcome = self._on_error(key, exc)
            if inspect.isawaitable(outcome):
                await outcome
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: on_error for key %r failed", self.name, key)

    async def join(self) -> None:
        """Wait until every key is idle (jobs submitted meanwhile included)."""
        while self._lanes:
            workers = [lane.worker for lane in self._lanes.values() if lane.worker is not None]
            await asyncio.gather(*workers, return_exceptions=True)
