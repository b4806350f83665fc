"""Two processes' services on one database and one bus: a list changed through one is
used by the other's next check, without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events.memory import InMemoryBus
from callcenter.migrate import upgrade
from callcenter.sensitive.matcher import Match
from callcenter.sensitive.service import SensitiveService, excerpt, language_of

TEXT = "我要投诉你们"


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SensitiveService, SensitiveService]]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/cc.db")
    await upgrade(db)
    bus = InMemoryBus()
    await bus.start()
    one, other = SensitiveService(db, bus, Clock()), SensitiveService(db, bus, Clock())
    await one.start()
    await other.start()
    try:
        yield one, other
    finally:
        await one.stop()
        await other.stop()
        await bus.stop()
        await db.close()


async def _phrases_soon(service: SensitiveService, want: list[str], within: float = 3.0) -> None:
    """The other process follows once the bus event reaches it: soon, not at once."""
    deadline = time.monotonic() + within
    while [m.phrase for m in await service.find(TEXT, "zh")] != want:
        assert time.monotonic() < deadline, f"still not {want} after {within} s"
        await asyncio.sleep(0.02)


async def test_a_change_in_one_process_reaches_the_other(pair):
    one, other = pair
    assert await other.find(TEXT, "zh") == []
    word = await one.words.create("投诉", "zh", "warn", True, None)
    assert [m.phrase for m in await one.find(TEXT, "zh")] == ["投诉"]  # at once where made
    await _phrases_soon(other, ["投诉"])
    await one.words.delete(word["id"])
    assert await one.find(TEXT, "zh") == []
    await _phrases_soon(other, [])


def test_language_tags_and_excerpts():
    assert language_of("zh-CN") == "zh" and language_of("en_US") == "en"
    text = "a" * 50 + "refund" + "b" * 50
    shown, start, end = excerpt(text, Match(1, "refund", 50, 56))
    assert shown[start:end] == "refund" and shown.startswith("…") and shown.endswith("…")
    assert excerpt("refund", Match(1, "refund", 0, 6)) == ("refund", 0, 6)
