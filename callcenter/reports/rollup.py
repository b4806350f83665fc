"""What one visit or one call adds to the half-hour rollups, and rebuilding them.

Incremental upkeep (the writer) and the rebuild from stored records must agree to the
last second of talk; both are written here, and tests compare them.

- A queue visit counts in the half hour it *left* the queue, as the live wallboard
  counts it when the `queue.left` event arrives: today's answered calls are the same
  number on both.
- A conversation's handle time (talk, hold, wrap-up, transfers) counts in the half
  hour its call *ended*, for the queue and agent on the call record (the last ones,
  when a transfer went through routing again). Its wrap-up seconds join when the agent
  files the wrap-up form; a call whose form never comes keeps a wrap-up of 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, text

from callcenter.calls.models import Call, CallState
from callcenter.metrics import Tally
from callcenter.reports.buckets import BUCKET_SECONDS, bucket_of
from callcenter.reports.models import (
    ABANDON_BOUNDS,
    ABANDON_COLUMNS,
    AGENT_HALF_HOURS,
    CUSTOMER_HALF_HOURS,
    INTEGER_MEASURES,
    MEASURES,
    QUEUE_HALF_HOURS,
)
from callcenter.routing.rules import region_for_number

CALL_CHANNEL = "voice"  # call records are voice; chats will bring their own records
HANDLE_MEASURES = ("handled", "talk", "hold", "wrap_up", "transfers")
Measures = dict[str, float]


@dataclass(frozen=True)
class Key:
    """A rollup row: UTC half hour, queue, channel, and the agent (None: nobody)."""

    bucket: int
    queue: str
    channel: str
    agent_id: int | None


def abandon_column(waited: float) -> str:
    for bound, column in zip(ABANDON_BOUNDS, ABANDON_COLUMNS, strict=False):
        if waited < bound:
            return column
    return ABANDON_COLUMNS[-1]


def visit_measures(visit: Tally, waited: float, overflow_to: str | None) -> Measures:
    """A one-visit `Tally` (counted with its queue's objective) as rollup measures."""
    measures = {name: float(value) for name, value in asdict(visit).items()}
    if visit.abandoned and not visit.short_abandoned:
        measures[abandon_column(waited)] = 1
    if visit.overflowed and overflow_to == "callback":
        measures["callbacks"] = 1
    return measures


def handling(record: Mapping[str, Any]) -> tuple[Key, Measures] | None:
    """What a call record adds to the rollups: a handled conversation once it has ended
    with an agent from a queue; nothing before (or for agents' own calls)."""
    ended_at: datetime | None = record["ended_at"]
    agent_id, queue = record["agent_id"], record["queue"]
    if record["state"] != CallState.ENDED or ended_at is None or agent_id is None or not queue:
        return None
    tally = Tally()
    tally.handle(record["talk_seconds"] or 0.0, record["hold_seconds"] or 0.0,
                 record["wrap_up_seconds"] or 0.0, record["transfers"] or 0)  # fmt: skip
    measures = {name: float(getattr(tally, name)) for name in HANDLE_MEASURES}
    return Key(bucket_of(ended_at), queue, CALL_CHANNEL, agent_id), measures


CustomerKey = tuple[int, str, str]  # bucket, dimension, value


def customer_kind(customer_class: str | None) -> str:
    """`new` on a customer's first contact, `returning` after (VIPs included),
    `anonymous` without a number to know them by."""
    if customer_class is None:
        return "anonymous"
    return "new" if customer_class == "new" else "returning"


def customer_keys(call: Call, customer_class: str | None) -> list[CustomerKey]:
    """What an arriving inbound call adds to the customer rollup (nothing otherwise)."""
    if call.direction != "inbound":
        return []
    bucket = bucket_of(call.started_at)
    return [
        (bucket, "source", call.dialed_number[:64]),
        (bucket, "region", region_for_number(call.caller_number)),
        (bucket, "customer", customer_kind(customer_class)),
    ]


def add(into: dict[Key, Measures], key: Key, measures: Mapping[str, float], sign: int = 1) -> None:
    row = into.setdefault(key, {})
    for name, value in measures.items():
        row[name] = row.get(name, 0.0) + sign * value


def _upsert(table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    columns = [*keys, *MEASURES]
    updates = ", ".join(f"{m} = {table.name}.{m} + excluded.{m}" for m in MEASURES)
    # The same statement on SQLite (3.24+) and PostgreSQL.
    return text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


UPSERT_QUEUE = _upsert(QUEUE_HALF_HOURS)
UPSERT_AGENT = _upsert(AGENT_HALF_HOURS)
UPSERT_CUSTOMER = text(
    f"INSERT INTO {CUSTOMER_HALF_HOURS.name} (bucket, dimension, value, calls) "
    "VALUES (:bucket, :dimension, :value, :calls) ON CONFLICT (bucket, dimension, value) "
    f"DO UPDATE SET calls = {CUSTOMER_HALF_HOURS.name}.calls + excluded.calls"
)


def apply_customers(conn: Connection, counts: Mapping[CustomerKey, int]) -> None:
    params = [{"bucket": b, "dimension": d, "value": v, "calls": n}
              for (b, d, v), n in counts.items() if n]  # fmt: skip
    if params:
        conn.execute(UPSERT_CUSTOMER, params)


def apply(conn: Connection, deltas: Mapping[Key, Mapping[str, float]]) -> None:
    """Add `deltas` to both rollups in the caller's transaction."""
    queue_rows: dict[Key, Measures] = {}
    for key, measures in deltas.items():
        add(queue_rows, Key(key.bucket, key.queue, key.channel, None), measures)
    queue_params = [_params(key, m) for key, m in queue_rows.items() if any(m.values())]
    agent_params = [
        _params(key, m) for key, m in deltas.items() if key.agent_id is not None and any(m.values())
    ]
    if queue_params:
        conn.execute(UPSERT_QUEUE, queue_params)
    if agent_params:
        conn.execute(UPSERT_AGENT, agent_params)


def _params(key: Key, measures: Mapping[str, float]) -> dict[str, Any]:
    values: dict[str, Any] = {"bucket": key.bucket, "queue": key.queue, "channel": key.channel}
    if key.agent_id is not None:
        values["agent_id"] = key.agent_id
    for name in MEASURES:
        value = measures.get(name, 0.0)
        values[name] = round(value) if name in INTEGER_MEASURES else value
    return values


# ---- rebuilding from the stored records ----------------------------------------------


def bucket_sql(dialect: str, column: str) -> str:
    """SQL for the UTC half hour of a timestamp column, on this database."""
    if dialect == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {BUCKET_SECONDS}) AS INTEGER)"
    # SQLite keeps UTC wall times as text; strftime('%s') reads them as UTC. Only the
    # whole seconds: SQLite rounds fractions to the millisecond, which would put an
    # instant 0.4 ms before a half hour into the next one (Python's bucket_of floors).
    return f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) / {BUCKET_SECONDS})"


def visit_sums(dialect: str, where: str = "") -> str:
    """The visit measures per (bucket, queue, channel, agent), summed by SQL exactly as
    `visit_measures` counts one visit (`where`: an extra condition on queue_visits)."""
    answered, abandoned = "outcome = 'answered'", "outcome = 'abandoned'"
    real = f"{abandoned} AND NOT short_abandoned"
    bounds = [0, *ABANDON_BOUNDS]
    buckets = []
    for i, column in enumerate(ABANDON_COLUMNS):
        cond = f"{real} AND waited >= {bounds[i]}"
        if i + 1 < len(bounds):
            cond += f" AND waited < {bounds[i + 1]}"
        buckets.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {column}")
    return f"""
        SELECT {bucket_sql(dialect, "left_at")} AS bucket, queue, channel,
               COALESCE(agent_id, 0) AS agent_id,
               COUNT(*) AS entered,
               SUM(CASE WHEN {answered} THEN 1 ELSE 0 END) AS answered,
               SUM(CASE WHEN {answered} AND answered_in_time THEN 1 ELSE 0 END)
                   AS answered_in_time,
               SUM(CASE WHEN {abandoned} THEN 1 ELSE 0 END) AS abandoned,
               SUM(CASE WHEN {abandoned} AND short_abandoned THEN 1 ELSE 0 END)
                   AS short_abandoned,
               SUM(CASE WHEN outcome = 'overflowed' THEN 1 ELSE 0 END) AS overflowed,
               0 AS handled, 0 AS transfers,
               SUM(CASE WHEN {answered} THEN waited ELSE 0 END) AS answer_wait,
               SUM(CASE WHEN {real} THEN waited ELSE 0 END) AS abandon_wait,
               0 AS talk, 0 AS hold, 0 AS wrap_up,
               {", ".join(buckets)},
               SUM(CASE WHEN outcome = 'overflowed' AND overflow_to = 'callback'
                   THEN 1 ELSE 0 END) AS callbacks
        FROM queue_visits {f"WHERE {where}" if where else ""} GROUP BY 1, 2, 3, 4"""


def handle_sums(dialect: str, where: str = "") -> str:
    """The handle-time measures of ended calls, as `handling` counts one record."""
    zeros = ", ".join(f"0 AS {c}" for c in ABANDON_COLUMNS)
    return f"""
        SELECT {bucket_sql(dialect, "ended_at")} AS bucket, queue,
               '{CALL_CHANNEL}' AS channel, agent_id,
               0 AS entered, 0 AS answered, 0 AS answered_in_time, 0 AS abandoned,
               0 AS short_abandoned, 0 AS overflowed,
               COUNT(*) AS handled, SUM(transfers) AS transfers,
               0 AS answer_wait, 0 AS abandon_wait,
               SUM(COALESCE(talk_seconds, 0)) AS talk, SUM(COALESCE(hold_seconds, 0)) AS hold,
               SUM(COALESCE(wrap_up_seconds, 0)) AS wrap_up,
               {zeros}, 0 AS callbacks
        FROM calls
        WHERE state = '{CallState.ENDED}' AND ended_at IS NOT NULL
          AND agent_id IS NOT NULL AND queue IS NOT NULL AND queue <> ''
          {f"AND {where}" if where else ""}
        GROUP BY 1, 2, 3, 4"""


def rebuild(conn: Connection) -> dict[str, int]:
    """Recompute both rollups from queue_visits and calls, in the caller's transaction.

    On PostgreSQL the rollups are locked first, so a live writer's additions wait and
    land on the rebuilt rows instead of being lost or counted twice; SQLite has one
    writer anyway. Call records written by the running server only land with its next
    flush: rebuild on a quiet server (or expect the calls of that moment to be off).
    """
    if conn.dialect.name == "postgresql":
        tables = (QUEUE_HALF_HOURS, AGENT_HALF_HOURS, CUSTOMER_HALF_HOURS)
        names = ", ".join(table.name for table in tables)
        conn.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(QUEUE_HALF_HOURS.delete())
    conn.execute(AGENT_HALF_HOURS.delete())
    sums = ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
    measures = ", ".join(MEASURES)
    dialect = conn.dialect.name
    both = f"{visit_sums(dialect)} UNION ALL {handle_sums(dialect)}"
    conn.execute(text(
        f"INSERT INTO {AGENT_HALF_HOURS.name} (bucket, queue, channel, agent_id, {measures}) "
        f"SELECT bucket, queue, channel, agent_id, {sums} FROM ({both}) AS parts "
        "WHERE agent_id <> 0 GROUP BY bucket, queue, channel, agent_id"
    ))  # fmt: skip
    conn.execute(text(
        f"INSERT INTO {QUEUE_HALF_HOURS.name} (bucket, queue, channel, {measures}) "
        f"SELECT bucket, queue, channel, {sums} FROM ({both}) AS parts "
        "GROUP BY bucket, queue, channel"
    ))  # fmt: skip
    _rebuild_customers(conn)
    return {
        table.name: int(conn.execute(text(f"SELECT COUNT(*) FROM {table.name}")).scalar_one())
        for table in (QUEUE_HALF_HOURS, AGENT_HALF_HOURS, CUSTOMER_HALF_HOURS)
    }


def _rebuild_customers(conn: Connection) -> None:
    """The customer rollup from the inbound calls, as `customer_keys` counts each.

    A call is its customer's first contact (`new`) when no call of theirs (either
    direction) started before it: what the customer's class said when it arrived.
    Regions go through the same Python lookup, once per distinct number.
    """
    conn.execute(CUSTOMER_HALF_HOURS.delete())
    bucket = bucket_sql(conn.dialect.name, "c.started_at")
    inbound = "FROM calls c WHERE c.direction = 'inbound'"
    first = (
        "LEFT JOIN (SELECT customer_id, MIN(started_at) AS first_at FROM calls "
        "WHERE customer_id IS NOT NULL GROUP BY customer_id) f ON f.customer_id = c.customer_id"
    )
    kind = ("CASE WHEN c.customer_id IS NULL THEN 'anonymous' "
            "WHEN c.started_at <= f.first_at THEN 'new' ELSE 'returning' END")  # fmt: skip
    for dimension, value, join in (
        ("source", "substr(c.dialed_number, 1, 64)", ""),
        ("customer", kind, first),
    ):
        conn.execute(text(
            f"INSERT INTO {CUSTOMER_HALF_HOURS.name} (bucket, dimension, value, calls) "
            f"SELECT {bucket}, '{dimension}', {value}, COUNT(*) FROM calls c {join} "
            "WHERE c.direction = 'inbound' GROUP BY 1, 2, 3"
        ))  # fmt: skip
    regions: dict[CustomerKey, int] = {}
    known: dict[str, str] = {}
    numbers = conn.execute(
        text(f"SELECT {bucket}, c.caller_number, COUNT(*) {inbound} GROUP BY 1, 2")
    )
    for at, number, calls in numbers:
        region = known.get(number)
        if region is None:
            region = known[number] = region_for_number(number)
        key = (int(at), "region", region)
        regions[key] = regions.get(key, 0) + int(calls)
    apply_customers(conn, regions)
