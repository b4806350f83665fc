"""TaskSupervisor and SerialExecutor with real asyncio tasks."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.tasks import SerialExecutor, SupervisorStopped, TaskSupervisor


async def test_spawned_failure_is_logged_with_task_name(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = TaskSupervisor("t")

    async def boom() -> None:
        raise ValueError("kaput")

    with caplog.at_level(logging.ERROR, logger="callcenter.tasks"):
        task = supervisor.spawn(boom(), name="call-42:greeting")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    assert "call-42:greeting" in caplog.text and "kaput" in caplog.text
    assert len(supervisor) == 0  # reference dropped once done
    await supervisor.stop()


async def test_keeps_references_until_done() -> None:
    supervisor = TaskSupervisor()
    release = asyncio.Event()
    task = supervisor.spawn(release.wait(), name="waiter")
    assert task in supervisor.tasks and task.get_name() == "waiter"
    release.set()
    await task
    assert len(supervisor) == 0
    await supervisor.stop()


async def test_stop_cancels_and_awaits_everything_and_is_idempotent() -> None:
    supervisor = TaskSupervisor()
    cleaned: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.append(name)

    tasks = [supervisor.spawn(forever(f"t{i}"), name=f"t{i}") for i in range(3)]
    await asyncio.sleep(0)
    await supervisor.stop()
    assert sorted(cleaned) == ["t0", "t1", "t2"]
    assert all(t.cancelled() for t in tasks)
    await supervisor.stop()
    coro = forever("late")
    with pytest.raises(SupervisorStopped):
        supervisor.spawn(coro, name="late")


async def test_cancellation_is_not_logged_as_failure(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = TaskSupervisor()
    task = supervisor.spawn(asyncio.sleep(3600), name="sleeper")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "sleeper" not in caplog.text
    await supervisor.stop()


async def test_serial_runs_same_key_in_order_and_keys_concurrently() -> None:
    supervisor = TaskSupervisor()
    executor: SerialExecutor[str] = SerialExecutor(supervisor)
    log: list[str] = []
    a_running = asyncio.Event()
    b_done = asyncio.Event()

    async def job(key: str, n: int, delay: float) -> int:
        log.append(f"{key}{n}+")
        if key == "a" and n == 0:
            a_running.set()
            await b_done.wait()  # a0 can only finish if b runs meanwhile
        await asyncio.sleep(delay)
        log.append(f"{key}{n}-")
        return n

    futures = [executor.submit("a", job("a", n, 0.01 * (3 - n))) for n in range(3)]
    await a_running.wait()
    b = executor.submit("b", job("b", 0, 0))
    await b
    b_done.set()
    assert await asyncio.gather(*futures) == [0, 1, 2]
    a_events = [e for e in log if e.startswith("a")]
    assert a_events == ["a0+", "a0-", "a1+", "a1-", "a2+", "a2-"]  # never overlapping
    assert log.index("b0-") < log.index("a0-")  # b did not wait for a
    await supervisor.stop()


async def test_failing_job_calls_on_error_and_next_job_still_runs() -> None:
    supervisor = TaskSupervisor()
    errors: list[tuple[str, str]] = []

    async def on_error(key: str, exc: BaseException) -> None:
        errors.append((key, str(exc)))

    executor: SerialExecutor[str] = SerialExecutor(supervisor, on_error=on_error)
    ran: list[int] = []

    async def bad() -> None:
        raise RuntimeError("handler bug")

    async def good(n: int) -> None:
        ran.append(n)

    first = executor.submit("ch1", good(1))
    failed = executor.submit("ch1", bad())
    after = executor.submit("ch1", good(2))
    await after
    assert ran == [1, 2]
    assert errors == [("ch1", "handler bug")]
    assert first.done() and isinstance(failed.exception(), RuntimeError)
    await supervisor.stop()


async def test_sync_on_error_and_failing_on_error_do_not_stop_the_lane() -> None:
    supervisor = TaskSupervisor()
    seen: list[str] = []

    def on_error(key: str, exc: BaseException) -> None:
        seen.append(key)
        raise LookupError("on_error itself broken")

    executor: SerialExecutor[str] = SerialExecutor(supervisor, on_error=on_error)

    async def bad() -> None:
        raise ValueError

    async def good() -> str:
        return "ok"

    executor.submit("k", bad())
    assert await executor.submit("k", good()) == "ok"
    assert seen == ["k"]
    await supervisor.stop()


async def test_job_cancelled_from_inside_is_a_failure_not_a_stop() -> None:
    supervisor = TaskSupervisor()
    errors: list[BaseException] = []
    executor: SerialExecutor[str] = SerialExecutor(
        supervisor, on_error=lambda key, exc: errors.append(exc)
    )

    async def cancelled_inside() -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.cancel()
        await fut

    async def good() -> int:
        return 7

    executor.submit("k", cancelled_inside())
    assert await executor.submit("k", good()) == 7
    assert len(errors) == 1 and isinstance(errors[0], asyncio.CancelledError)
    await supervisor.stop()


async def test_idle_keys_are_dropped() -> None:
    supervisor = TaskSupervisor()
    executor: SerialExecutor[int] = SerialExecutor(supervisor)

    async def noop() -> None:
        await asyncio.sleep(0)

    for key in range(500):
        executor.submit(key, noop())
    assert len(executor) == 500
    await executor.join()
    assert len(executor) == 0 and executor.pending(3) == 0
    assert len(supervisor) == 0
    await supervisor.stop()


async def test_stop_cancels_running_and_queued_jobs() -> None:
    supervisor = TaskSupervisor()
    executor: SerialExecutor[str] = SerialExecutor(supervisor)
    started = asyncio.Event()

    async def long() -> None:
        started.set()
        await asyncio.sleep(3600)

    async def never() -> None:  # pragma: no cover - must not run
        raise AssertionError("queued job ran after stop")

    running = executor.submit("k", long())
    queued = executor.submit("k", never())
    assert executor.pending("k") == 2
    await started.wait()
    await supervisor.stop()
    assert running.cancelled() and queued.cancelled()
    assert len(executor) == 0
    with pytest.raises(SupervisorStopped):
        executor.submit("k", never())
