"""Report query time at 10k, 100k and 1M call records, on SQLite and PostgreSQL.

A floor of 8 queues and 60 agents answering calls for a year (the center's business
hours, Asia/Shanghai); N calls spread over that year, each with its queue visits (one
in twenty overflows to a second queue). Records are bulk-loaded (sqlite3 executemany,
PostgreSQL COPY), then `callcenter reports rebuild` builds the rollups.

Timed, each the median of 5 runs after a warm-up, through `ReportService`:

* June by day by queue, June by day by agent, one week of June by hour for the floor;
* the customer side for June (sources, regions, new/returning);
* baseline: the two June reports and the customer side computed by plain GROUP BYs
  over the raw queue_visits and calls of the period (indexes on left_at, ended_at,
  started_at, customer_id), folded by the same code; their rows are checked equal to
  the rollups'.

    .venv/bin/python bench/reports.py [--sizes 10000,100000,1000000]
                                      [--backends sqlite,postgresql]

Not a test: prints numbers, never fails on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import DateTime, bindparam, text

from callcenter.db import Database
from callcenter.metrics import ServiceLevel
from callcenter.migrate import upgrade
from callcenter.reports import rollup
from callcenter.reports.buckets import Folding, Period, Span
from callcenter.reports.service import Group, ReportService
from callcenter.reports.writer import ReportWriter
from callcenter.routing.rules import region_for_number

ZONE = ZoneInfo("Asia/Shanghai")
SL = ServiceLevel()  # 80/20, short abandons under 5 s: every queue's objective here
QUEUES = [f"q{n}" for n in range(8)]
AGENTS = 60
START = datetime(2025, 12, 1, tzinfo=UTC).timestamp()
DAYS = 365
JUNE = Span(date(2026, 6, 1), date(2026, 6, 30), ZONE)
WEEK = Span(date(2026, 6, 8), date(2026, 6, 14), ZONE)
CHUNK = 50_000

CALL_COLUMNS = (
    "id", "channel_id", "node", "direction", "caller_number", "caller_name", "dialed_number",
    "customer_id", "agent_id", "state", "disposition", "started_at", "answered_at", "ended_at",
    "queue", "queue_seconds", "talk_seconds", "hold_seconds", "wrap_up_seconds", "abandoned",
    "transfers",
)  # fmt: skip
VISIT_COLUMNS = (
    "call_id", "task_id", "queue", "channel", "entered_at", "left_at", "waited", "outcome",
    "agent_id", "position", "overflow_to", "answered_in_time", "short_abandoned",
)  # fmt: skip
PREFIXES = ["+86138", "+86139", "+1415", "+4420", "+85291", "+8190", "0755"]


# ---- data ----------------------------------------------------------------------------


def _calls(
    n: int, seed: int
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Chunks of (calls, visits, customers) rows, times as epoch seconds; the same for a
    seed, so both backends load the same records."""
    rnd = random.Random(seed)
    # Start times in order (business hours 08:00-20:00 Shanghai = 00:00-12:00 UTC).
    starts = sorted(START + rnd.randrange(DAYS) * 86400 + rnd.random() * 43200 for _ in range(n))
    customers = max(1, n // 4)
    seen: set[int] = set()
    calls: list[tuple[Any, ...]] = []
    visits: list[tuple[Any, ...]] = []
    new_customers: list[tuple[Any, ...]] = []
    for i, started in enumerate(starts, start=1):
        customer = rnd.randrange(1, customers + 1) if rnd.random() > 0.05 else None
        if customer is not None and customer not in seen:
            seen.add(customer)
            new_customers.append((customer, f"c{customer}", "new", started, started))
        queue = rnd.choice(QUEUES)
        entered = started + rnd.uniform(5, 30)  # the IVR first
        r = rnd.random()
        agent = talk = hold = wrap = None
        transfers, ended_queue = 0, queue
        if r < 0.05:  # overflows to a second queue, answered there
            waited = rnd.uniform(60, 120)
            left = entered + waited
            second = rnd.choice(QUEUES)
            visits.append(_visit(i, queue, entered, left, "overflowed", None, f"queue:{second}"))
            entered, ended_queue = left, second
            r = 0.0
        if r < 0.82:
            waited = rnd.expovariate(1 / 25)
            left = entered + waited
            agent = rnd.randrange(1, AGENTS + 1)
            visits.append(_visit(i, ended_queue, entered, left, "answered", agent, None))
            talk = rnd.uniform(40, 400)
            hold = rnd.uniform(10, 60) if rnd.random() < 0.2 else None
            wrap = rnd.uniform(5, 60) if rnd.random() < 0.9 else None
            transfers = 1 if rnd.random() < 0.05 else 0
            ended = left + talk + (hold or 0)
            state = ("completed", False)
        elif r < 0.94:
            waited = rnd.expovariate(1 / 40)
            left = ended = entered + waited
            visits.append(_visit(i, ended_queue, entered, left, "abandoned", None, None))
            state = ("abandoned", True)
        else:
            waited = rnd.uniform(60, 300)
            left = entered + waited
            to = rnd.choice(["callback", "voicemail"])
            visits.append(_visit(i, ended_queue, entered, left, "overflowed", None, to))
            ended = left + 30
            state = ("completed", False)
        number = rnd.choice(PREFIXES) + f"{rnd.randrange(10**7):07d}"
        calls.append((
            i, f"bench-{i}", "local", "inbound", number, "", rnd.choice(["100", "200", "300"]),
            customer, agent, "ended", state[0], started, started + 1, ended, ended_queue,
            left - started, talk, hold, wrap, state[1], transfers,
        ))  # fmt: skip
        if len(calls) >= CHUNK:
            yield calls, visits, new_customers
            calls, visits, new_customers = [], [], []
    yield calls, visits, new_customers


def _visit(call: int, queue: str, entered: float, left: float, outcome: str,
           agent: int | None, to: str | None) -> tuple[Any, ...]:  # fmt: skip
    waited = left - entered
    # As Tally.count judges them with the queue's objective when the writer stores one.
    in_time = outcome == "answered" and waited <= SL.seconds
    short = outcome == "abandoned" and waited < SL.short_abandon
    return (call, f"call-{call}", queue, "voice", entered, left, round(waited, 3), outcome,
            agent, None, to, in_time, short)  # fmt: skip


def _sqlite_time(epoch: float) -> str:
    # SQLAlchemy's SQLite DateTime text: the UTC wall time with microseconds.
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


TIME_CALL = (CALL_COLUMNS.index("started_at"), CALL_COLUMNS.index("answered_at"),
             CALL_COLUMNS.index("ended_at"))  # fmt: skip
TIME_VISIT = (VISIT_COLUMNS.index("entered_at"), VISIT_COLUMNS.index("left_at"))


def _times(
    rows: list[tuple[Any, ...]], at: tuple[int, ...], fmt: Callable[[float], Any]
) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        out = list(row)
        for i in at:
            out[i] = fmt(out[i])
        yield tuple(out)


def _users() -> list[tuple[Any, ...]]:
    made = datetime(2025, 1, 1, tzinfo=UTC)
    return [(n, f"agent{n}", f"Agent {n}", "agent", "x", True, "en", "[]", "[]", made)
            for n in range(1, AGENTS + 1)]  # fmt: skip


USER_COLUMNS = ("id", "username", "display_name", "role", "password_hash", "is_active",
                "language", "extra_permissions", "revoked_permissions", "created_at")  # fmt: skip
CUSTOMER_COLUMNS = ("id", "display_name", "customer_class", "created_at", "last_contact_at")


def load_sqlite(path: Path, n: int, seed: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    users = [tuple(_sqlite_time(v.timestamp()) if isinstance(v, datetime) else v for v in u)
             for u in _users()]  # fmt: skip
    _insert_sqlite(conn, "users", USER_COLUMNS, users)
    for calls, visits, customers in _calls(n, seed):
        _insert_sqlite(conn, "customers", CUSTOMER_COLUMNS, _times(customers, (3, 4), _sqlite_time))
        _insert_sqlite(conn, "calls", CALL_COLUMNS, _times(calls, TIME_CALL, _sqlite_time))
        _insert_sqlite(
            conn, "queue_visits", VISIT_COLUMNS, _times(visits, TIME_VISIT, _sqlite_time)
        )
    conn.execute("CREATE INDEX ix_bench_calls_ended_at ON calls (ended_at)")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _insert_sqlite(
    conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: Any
) -> None:
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def load_postgres(url: str, n: int, seed: int) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        _copy(cur, "users", USER_COLUMNS, _users())
        for calls, visits, customers in _calls(n, seed):
            _copy(cur, "customers", CUSTOMER_COLUMNS, _times(customers, (3, 4), _pg_time))
            _copy(cur, "calls", CALL_COLUMNS, _times(calls, TIME_CALL, _pg_time))
            _copy(cur, "queue_visits", VISIT_COLUMNS, _times(visits, TIME_VISIT, _pg_time))
        cur.execute("CREATE INDEX ix_bench_calls_ended_at ON calls (ended_at)")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: Any) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# ---- timing --------------------------------------------------------------------------


async def _median(work: Callable[[], Awaitable[Any]], runs: int = 5) -> tuple[float, Any]:
    result = await work()  # warm-up: caches, the first connection
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _baseline(
    db: Database, reports: ReportService, span: Span, by: Period, group: Group
) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    """The same report by a plain GROUP BY over the period's raw records (the same
    sums the rebuild uses, restricted to the period by its indexes), folded alike."""
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    visits = rollup.visit_sums(dialect, "left_at >= :start AND left_at < :end")
    handled = rollup.handle_sums(dialect, "ended_at >= :start AND ended_at < :end")
    agents = " WHERE agent_id <> 0" if group in (Group.AGENT, Group.TEAM) else ""
    source = f"(SELECT * FROM ({visits} UNION ALL {handled}) AS raw{agents}) AS parts"
    params = [
        bindparam("start", span.start, type_=DateTime(timezone=True)),
        bindparam("end", span.end, type_=DateTime(timezone=True)),
    ]
    return lambda: reports.summed(source, span, by, group, params)


def _customers_baseline(
    db: Database, span: Span, by: Period
) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    """The customer report by plain GROUP BYs over the period's calls (as it was
    computed before its rollup): first contact by a lookup of the customer's first call."""
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    folding = Folding(span, by)
    period = folding.sql(f"({rollup.bucket_sql(dialect, 'c.started_at')})")
    where = "c.direction = 'inbound' AND c.started_at >= :start AND c.started_at < :end"
    kind = ("CASE WHEN c.customer_id IS NULL THEN 'anonymous' WHEN c.started_at <= "
            "(SELECT MIN(f.started_at) FROM calls f WHERE f.customer_id = c.customer_id) "
            "THEN 'new' ELSE 'returning' END")  # fmt: skip
    params = [
        bindparam("start", span.start, type_=DateTime(timezone=True)),
        bindparam("end", span.end, type_=DateTime(timezone=True)),
    ]
    queries = {
        dimension: text(
            f"SELECT {period}, {value}, COUNT(*) FROM calls c WHERE {where} GROUP BY 1, 2"
        ).bindparams(*params)
        for dimension, value in (
            ("source", "c.dialed_number"), ("region", "c.caller_number"), ("customer", kind)
        )
    }  # fmt: skip

    async def run() -> list[dict[str, Any]]:
        counts: dict[tuple[str, str, str], int] = {}
        async with db.engine.connect() as conn:
            for dimension, sql in queries.items():
                for number, raw, calls in await conn.execute(sql):
                    value = region_for_number(raw) if dimension == "region" else raw
                    key = (folding.label(int(number)), dimension, value)
                    counts[key] = counts.get(key, 0) + int(calls)
        return [{"period": p, "dimension": d, "value": v, "calls": n}
                for (p, d, v), n in sorted(counts.items())]  # fmt: skip

    return run


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for k, v in x.items():
            w = y[k]
            if isinstance(v, float) and isinstance(w, float):
                if abs(v - w) > 0.11:  # one unit of the last rounded digit
                    return False
            elif v != w:
                return False
    return True


async def measure(url: str) -> dict[str, Any]:
    db = Database(url)
    writer = ReportWriter(db, lambda _queue: SL)
    reports = ReportService(db, writer, ZONE)
    out: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        out["rollup_rows"] = await db.write(rollup.rebuild)
        out["rebuild"] = time.perf_counter() - started
        jobs = {
            "month_day_queue": lambda: reports.service(JUNE, Period.DAY, Group.QUEUE),
            "month_day_agent": lambda: reports.service(JUNE, Period.DAY, Group.AGENT),
            "week_hour_floor": lambda: reports.service(WEEK, Period.HOUR, Group.NONE),
            "customers_month": lambda: reports.customers(JUNE, Period.DAY),
            "base_month_day_queue": _baseline(db, reports, JUNE, Period.DAY, Group.QUEUE),
            "base_month_day_agent": _baseline(db, reports, JUNE, Period.DAY, Group.AGENT),
            "base_customers_month": _customers_baseline(db, JUNE, Period.DAY),
        }
        results = {}
        for name, job in jobs.items():
            out[name], results[name] = await _median(job)
        out["baseline_equal"] = all(
            _same(results[name], results[f"base_{name}"])
            for name in ("month_day_queue", "month_day_agent", "customers_month")
        )
        out["rows"] = {name: len(rows) for name, rows in results.items()}
    finally:
        await db.close()
    return out


# ---- driving -------------------------------------------------------------------------


async def _migrated(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.close()


def run_backend(backend: str, sizes: list[int]) -> dict[int, dict[str, Any]]:
    results = {}
    server = None
    if backend == "postgresql":
        from tests.support.servers import start_postgres

        server = start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
            for n in sizes:
                if server is None:
                    path = Path(tmp) / f"reports-{n}.db"
                    url = f"sqlite+aiosqlite:///{path}"
                else:
                    url = server.url(server.create_database(f"bench_{n}"))
                asyncio.run(_migrated(url))
                started = time.perf_counter()
                if server is None:
                    load_sqlite(path, n, seed=n)
                else:
                    load_postgres(url, n, seed=n)
                loaded = time.perf_counter() - started
                results[n] = asyncio.run(measure(url)) | {"load": loaded}
                _print_one(backend, n, results[n])
    finally:
        if server is not None:
            server.stop()
    return results


REPORTS = (
    "month_day_queue", "month_day_agent", "week_hour_floor", "customers_month",
    "base_month_day_queue", "base_month_day_agent", "base_customers_month",
)  # fmt: skip


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _print_one(backend: str, n: int, r: dict[str, Any]) -> None:
    rows = r["rollup_rows"]
    tables = " / ".join(
        f"{rows[t]:,}"
        for t in (
            "report_queue_half_hours",
            "report_agent_half_hours",
            "report_customer_half_hours",
        )
    )
    print(f"{backend} {n:>9,} calls: load {r['load']:.1f} s, rebuild {r['rebuild']:.1f} s, "
          f"rollup rows (queue / agent / customer) {tables}", flush=True)  # fmt: skip
    for name in REPORTS:
        print(f"    {name:<22} {_ms(r[name]):>10}  ({r['rows'][name]} rows)", flush=True)
    print(f"    baseline rows equal to the rollup's: {r['baseline_equal']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    all_results = {b: run_backend(b, sizes) for b in args.backends.split(",")}
    print("\ngrowth (largest / smallest size):")
    for backend, results in all_results.items():
        small, large = results[min(sizes)], results[max(sizes)]
        for name in REPORTS:
            ratio = large[name] / small[name]
            print(
                f"  {backend:<10} {name:<22} x{ratio:6.1f} for x{max(sizes) // min(sizes)} records"
            )


if __name__ == "__main__":
    main()
