"""`callcenter reports rebuild` from a shell: rollups recomputed from stored visits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from callcenter.db import Database
from callcenter.migrate import upgrade
from callcenter.reports.models import QueueVisitRow
from tests.support.cli import clean_env, run_cli

ROOT = Path(__file__).resolve().parents[3]


async def test_rebuild_counts_the_stored_visits(tmp_path: Path):
    env = clean_env(CALLCENTER_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    refused = run_cli(env, "reports", "rebuild", cwd=ROOT)
    assert refused.returncode == 1 and "callcenter db upgrade" in refused.stderr
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}")
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    visit = {"task_id": "chat-1", "queue": "support", "channel": "chat", "entered_at": at,
             "left_at": at, "waited": 4.0, "outcome": "answered", "agent_id": 7,
             "answered_in_time": True, "short_abandoned": False}  # fmt: skip
    try:
        await upgrade(db)
        await db.write(lambda conn: conn.execute(insert(QueueVisitRow.__table__), [visit]))  # type: ignore[attr-defined]
    finally:
        await db.close()
    done = run_cli(env, "reports", "rebuild", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "report_queue_half_hours: 1 rows" in done.stdout
    assert "report_agent_half_hours: 1 rows" in done.stdout
