"""Call records against both database backends (SQLite file and a real PostgreSQL)."""

from datetime import UTC, datetime, timedelta

from callcenter.calls.models import Disposition
from callcenter.calls.service import CallService, NewCall
from callcenter.clock import FixedClock
from callcenter.events.memory import InMemoryBus


def _new(channel: str, number: str = "+8613800138000") -> NewCall:
    return NewCall(channel_id=channel, caller_number=number, caller_name="", dialed_number="100")


async def test_call_lifecycle_is_recorded_and_published(database):
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    bus = InMemoryBus()
    sub = bus.subscribe("call.")
    calls = CallService(database, bus, clock)

    call = await calls.start(_new("chan-1"))
    clock.advance(timedelta(seconds=2))
    await calls.answered(call.id)
    await calls.note(call.id, "dtmf", {"digit": "5"})
    clock.advance(timedelta(seconds=30))
    await calls.end(call.id, cause=16, cause_text="Normal Clearing", ended_by="caller")

    stored, events = await calls.get_call(call.id)
    assert stored.state == "ended"
    assert stored.disposition == Disposition.COMPLETED
    assert stored.hangup_cause == 16
    assert stored.customer_id is not None
    assert [e.type for e in events] == ["started", "answered", "dtmf", "ended"]
    published = [(await sub.get()).type for _ in range(4)]
    assert published == ["call.started", "call.answered", "call.dtmf", "call.ended"]


async def test_ending_twice_records_once_and_keeps_first_cause(database):
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    calls = CallService(database, InMemoryBus(), clock)
    call = await calls.start(_new("chan-2"))
    await calls.end(call.id, cause=None, cause_text=None, ended_by="caller")
    await calls.end(call.id, cause=17, cause_text="User busy", ended_by="system")
    stored, events = await calls.get_call(call.id)
    assert stored.disposition == Disposition.ABANDONED
    assert stored.ended_by == "caller"
    assert stored.hangup_cause == 17  # the late report fills in what was unknown
    assert stored.hangup_cause_text == "User busy"
    assert [e.type for e in events].count("ended") == 1


async def test_same_number_is_the_same_customer(database):
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    calls = CallService(database, InMemoryBus(), clock)
    first = await calls.start(_new("chan-3", "+86 138 0013 8001"))
    second = await calls.start(_new("chan-4", "008613800138001"))
    anonymous = await calls.start(_new("chan-5", "anonymous"))
    assert first.customer_id == second.customer_id
    assert anonymous.customer_id is None


async def test_open_calls_lists_what_a_restarted_controller_must_reconcile(database):
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    calls = CallService(database, InMemoryBus(), clock)
    up = await calls.start(_new("chan-6"))
    done = await calls.start(_new("chan-7"))
    await calls.end(done.id, cause=16, cause_text=None, ended_by="caller")
    assert {c.id for c in await calls.open_calls()} >= {up.id}
    assert done.id not in {c.id for c in await calls.open_calls()}


async def test_changes_held_in_memory_reach_the_database(database):
    """A call in progress lives in memory; what it publishes is stored within a flush."""
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    calls = CallService(database, InMemoryBus(), clock)
    call = await calls.start(_new("chan-8", "+8613800138088"))
    await calls.answered(call.id)
    await calls.note(call.id, "ivr.input", {"digits": "1"})
    await calls.end(call.id, cause=16, cause_text=None, ended_by="caller")
    await calls.end(call.id, cause=16, cause_text="Normal Clearing", ended_by="caller")
    await calls.close()
    # Another process (a fresh service, nothing in memory) reads what was written.
    other = CallService(database, InMemoryBus(), clock)
    stored, events = await other.get_call(call.id)
    assert (stored.state, stored.disposition) == ("ended", Disposition.COMPLETED)
    assert stored.answered_at is not None and stored.hangup_cause_text == "Normal Clearing"
    assert [e.type for e in events] == ["started", "answered", "ivr.input", "ended"]
    assert (await other.by_channel("chan-8")).id == call.id


async def test_a_caller_who_called_before_is_returning(database):
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    calls = CallService(database, InMemoryBus(), clock)
    first = await calls.start(_new("chan-9", "+8613800138099"))
    assert await calls.customer_class(first.customer_id) == "new"
    clock.advance(timedelta(days=1))
    second = await calls.start(_new("chan-10", "+8613800138099"))
    assert second.customer_id == first.customer_id
    assert await calls.customer_class(second.customer_id) == "returning"
