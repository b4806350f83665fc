"""The "% SLA met" report: clocks grouped by a ticket field, per metric.

The figure is the engine's (`sla.percent_met`, docs/sla.md): achieved within target /
(achieved + breached), each next-response cycle one clock; a clock still running
within target, or paused, is not counted yet; a breached one counts as missed even
while it runs. Median time to first response is the business time the first-response
clock ran before the first public reply, over the tickets that had one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from callcenter.tickets.sla import Metric, MetricStatus

By = Literal["priority", "type", "group", "policy"]
METRICS = tuple(m.value for m in Metric)


def columns(by: By) -> list[str]:
    cols = [by, "tickets"]
    for metric in METRICS:
        cols += [f"{metric}_met", f"{metric}_breached", f"{metric}_percent_met"]
    return [*cols, "median_first_response_minutes"]


def summarize(rows: Iterable[Mapping[Any, Any]], by: By) -> list[dict[str, Any]]:
    """`rows`: one per clock, with `key` (the group's value), `ticket_id`, `metric`,
    `status`, `elapsed_seconds` and `achieved_at`. Groups sorted by key."""
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row["key"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"tickets": set(), "first": []}
            for metric in METRICS:
                group[metric] = [0, 0]
        group["tickets"].add(row["ticket_id"])
        counts = group[row["metric"]]
        if row["status"] == MetricStatus.ACHIEVED:
            counts[0] += 1
        elif row["status"] == MetricStatus.BREACHED:
            counts[1] += 1
        if row["metric"] == Metric.FIRST_RESPONSE and row["achieved_at"] is not None:
            group["first"].append(row["elapsed_seconds"] / 60)
    out = []
    for key in sorted(groups):
        group = groups[key]
        line: dict[str, Any] = {by: key, "tickets": len(group["tickets"])}
        for metric in METRICS:
            met, breached = group[metric]
            line[f"{metric}_met"] = met
            line[f"{metric}_breached"] = breached
            line[f"{metric}_percent_met"] = (
                round(100 * met / (met + breached), 2) if met + breached else None
            )
        first = group["first"]
        line["median_first_response_minutes"] = (
            round(statistics.median(first), 2) if first else None
        )
        out.append(line)
    return out
