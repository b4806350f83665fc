"""Checks across nodes and flows that one node's model cannot make.

A set of flows that passes runs without dead ends the admin did not draw: every
reference resolves, every prompt file exists, no number rings two flows, no regular
expression or time zone fails in the middle of a call, and no loop can spin without
waiting for the caller. Unreachable nodes are only warnings: harmless, but usually a
typo in a reference elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from callcenter.config import default_media_dir
from callcenter.ivr import model as m
from callcenter.ivr.conditions import parse_range
from callcenter.ivr.loader import (
    PROMPT_FIELDS,
    PathKey,
    Problem,
    Severity,
    SourceMap,
    read_source,
    suggest,
)

__all__ = ["Problem", "references", "validate_flows"]

# Nodes that go on without waiting for the caller: a cycle made only of these never
# stops (a menu, collect, queue... waits for digits, speech or an agent).
IDLE_TYPES = (m.PlayNode, m.SetNode, m.GotoNode, m.ConditionNode, m.LookupNode)
# Node options that name another node of the same flow.
NEXT_FIELDS = ("next", "invalid", "no_input", "on_failure", "otherwise", "on_error", "on_timeout")
TARGET_MAPS = {"options": "option", "phrases": "phrase", "dtmf": "dtmf key"}


@dataclass(frozen=True)
class _Source:
    """A loaded flow with where its parts are in its file."""

    flow: m.Flow
    path: Path
    where: SourceMap

    def problem(self, path: PathKey, message: str, severity: Severity = "error") -> Problem:
        return self.where.problem(path, message, severity)


def validate_flows(
    flows: Iterable[tuple[m.Flow, Path]],
    media_dir: Path | None = None,
    queues: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem of a set of flows loaded from their files, in file order.

    The files are read again for positions only; `media_dir` (default: the project's
    media/) is where `file` prompts must exist; `queues`, when given, the queues of
    routing.yaml that `queue` nodes may name.
    """
    media = media_dir if media_dir is not None else default_media_dir()
    sources = [_Source(flow, path, read_source(path)) for flow, path in flows]
    names = {s.flow.name: s for s in sources}
    problems: list[Problem] = []
    for source in sources:
        problems += _check_flow(source, names, media)
        if queues is not None:
            problems += _unknown_queues(source, queues)
    problems += _idle_loops(sources)
    problems += _numbers_claimed_twice(sources)
    problems += _names_used_twice(sources)
    return sorted(problems, key=lambda p: (p.file, p.line, p.column))


def _unknown_queues(source: _Source, queues: Collection[str]) -> Iterator[Problem]:
    for node_id, node in source.flow.nodes.items():
        if isinstance(node, m.QueueNode) and node.queue not in queues:
            hint = suggest(node.queue, queues)
            known = ", ".join(sorted(queues)) or "none"
            message = f"unknown queue {node.queue!r}{hint} (routing.yaml has: {known})"
            yield source.problem(("nodes", node_id, "queue"), message)


def references(node: m.NodeBase) -> Iterator[tuple[PathKey, str, str]]:
    """(path inside the node, how to name the link, target node id) for every link to
    another node of the same flow."""
    for name in NEXT_FIELDS:
        target = getattr(node, name, None)
        if target is not None:
            yield (name,), repr(name), target
    if isinstance(node, m.GotoNode) and node.node is not None:
        yield ("node",), "'node'", node.node
    for mapping, label in TARGET_MAPS.items():
        for key, target in (getattr(node, mapping, None) or {}).items():
            yield (mapping, key), f"{label} {key!r}", target
    if isinstance(node, m.ConditionNode):
        for index, branch in enumerate(node.branches):
            yield ("branches", index, "then"), "'then'", branch.then


def _check_flow(source: _Source, flows: dict[str, _Source], media_dir: Path) -> list[Problem]:
    flow = source.flow
    out: list[Problem] = []
    if flow.start not in flow.nodes:
        message = f"start: no node {flow.start!r} in this flow{suggest(flow.start, flow.nodes)}"
        out.append(source.problem(("start",), message))
    for node_id, node in flow.nodes.items():
        at: PathKey = ("nodes", node_id)
        out += _dangling(source, at, node)
        if isinstance(node, m.GotoNode) and node.flow is not None and node.flow not in flows:
            message = f"goto: no flow named {node.flow!r}{_known_flows(node.flow, flows)}"
            out.append(source.problem((*at, "flow"), message))
        out += _missing_files(source, at, node, media_dir)
        out += _bad_patterns(source, at, node)
        if isinstance(node, m.ConditionNode):
            out += _bad_calendars(source, at, node)
    out += _unreachable(source)
    return out


def _known_flows(name: str, flows: Iterable[str]) -> str:
    names = sorted(flows)
    if len(names) > 8:
        return suggest(name, names)
    return f" (flows: {', '.join(names)})"


def _dangling(source: _Source, at: PathKey, node: m.NodeBase) -> Iterator[Problem]:
    nodes = source.flow.nodes
    for path, label, target in references(node):
        if target not in nodes:
            message = f"{label}: no node {target!r} in this flow{suggest(target, nodes)}"
            yield source.problem((*at, *path), message)


def _missing_files(
    source: _Source, at: PathKey, node: m.NodeBase, media_dir: Path
) -> Iterator[Problem]:
    """A `file` prompt that is not there would be silence in the middle of a call."""
    for name in PROMPT_FIELDS:
        value = getattr(node, name, None)
        for index, prompt in enumerate(m.prompt_list(value)):
            if prompt.file is None or (media_dir / prompt.file).is_file():
                continue
            where = (name, index) if isinstance(value, list) else (name,)
            message = f"prompt file {prompt.file!r} not found in {media_dir}"
            yield source.problem((*at, *where, "file"), message)


def _bad_patterns(source: _Source, at: PathKey, node: m.NodeBase) -> Iterator[Problem]:
    """Regular expressions are compiled when they are used, mid-call: check them now."""
    patterns: list[tuple[PathKey, str | None]] = []
    if isinstance(node, m.CollectNode):
        patterns.append((("pattern",), node.pattern))
    if isinstance(node, m.ConditionNode):
        for i, branch in enumerate(node.branches):
            patterns.append((("branches", i, "caller_matches"), branch.caller_matches))
            if branch.compare is not None:
                patterns.append((("branches", i, "compare", "matches"), branch.compare.matches))
    for path, pattern in patterns:
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            message = f"{path[-1]!r} is not a valid regular expression: {exc}"
            yield source.problem((*at, *path), message)


def _bad_calendars(source: _Source, at: PathKey, node: m.ConditionNode) -> Iterator[Problem]:
    for i, branch in enumerate(node.branches):
        base = (*at, "branches", i)
        hours = branch.business_hours
        if hours is not None:
            yield from _bad_hours(source, (*base, "business_hours"), hours)
            yield from _bad_dates(source, (*base, "business_hours", "holidays"), hours.holidays)
        if branch.holiday is not None:
            yield from _bad_dates(source, (*base, "holiday"), branch.holiday)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _bad_hours(source: _Source, at: PathKey, hours: m.BusinessHours) -> Iterator[Problem]:
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        hint = suggest(hours.timezone, _time_zones())
        message = f"unknown time zone {hours.timezone!r}{hint}; use a name like Europe/Paris"
        yield source.problem((*at, "timezone"), message)
    for day, ranges in hours.weekly.items():
        for index, text in enumerate(ranges):
            wrong = _range_problem(text)
            if wrong:
                yield source.problem((*at, "weekly", day, index), wrong)


def _range_problem(text: str) -> str | None:
    """Why an "HH:MM-HH:MM" range cannot work, or None."""
    try:
        start, end = parse_range(text)
    except ValueError as exc:
        return f"time range {text!r}: {exc}"
    if end <= start:
        # Ranges cannot cross midnight (see conditions.is_open): say how to write it.
        return f"time range {text!r} ends before it starts; split a night over two days"
    return None


def _bad_dates(source: _Source, at: PathKey, dates: Sequence[str]) -> Iterator[Problem]:
    for index, text in enumerate(dates):
        try:
            date.fromisoformat(text)
        except ValueError:
            yield source.problem((*at, index), f"{text!r} is not a date of the calendar")


def _unreachable(source: _Source) -> list[Problem]:
    """Nodes no path from `start` leads to (a goto from another flow enters at start)."""
    flow = source.flow
    if flow.start not in flow.nodes:
        return []  # everything would be unreachable; the start problem says why
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in flow.nodes:
            continue
        seen.add(node_id)
        todo += [target for _, _, target in references(flow.nodes[node_id])]
    return [
        source.problem(
            ("nodes", node_id),
            f"node {node_id!r} is never reached from start {flow.start!r}",
            "warning",
        )
        for node_id in flow.nodes
        if node_id not in seen
    ]


# -- loops that never wait for the caller -------------------------------------------

Vertex = tuple[int, str]  # (index of the flow in the list, node id)
EXIT: Vertex = (-1, "")  # anywhere that is not an idle node of a loaded flow


def _idle_graph(sources: Sequence[_Source]) -> dict[Vertex, list[Vertex]]:
    """Edges between idle nodes, across flows through `goto: {flow: ...}`; every other
    way on is an edge to EXIT, so a loop with a way out can be told apart."""
    first_named: dict[str, int] = {}
    for i, source in enumerate(sources):
        first_named.setdefault(source.flow.name, i)
    graph: dict[Vertex, list[Vertex]] = {}
    for i, source in enumerate(sources):
        for node_id, node in source.flow.nodes.items():
            if not isinstance(node, IDLE_TYPES):
                continue
            targets = [(i, target) for _, _, target in references(node)]
            if isinstance(node, m.GotoNode) and node.flow in first_named:
                j = first_named[node.flow]
                targets.append((j, sources[j].flow.start))
            graph[(i, node_id)] = targets
    for vertex, targets in graph.items():
        graph[vertex] = [t if t in graph else EXIT for t in targets]
    return graph


def _strongly_connected(graph: dict[Vertex, list[Vertex]]) -> list[list[Vertex]]:
    """Tarjan's algorithm without recursion (a long chain must not hit Python's limit)."""
    index: dict[Vertex, int] = {}
    low: dict[Vertex, int] = {}
    stack: list[Vertex] = []
    on_stack: set[Vertex] = set()
    found: list[list[Vertex]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            vertex, i = work.pop()
            if i == 0:
                index[vertex] = low[vertex] = len(index)
                stack.append(vertex)
                on_stack.add(vertex)
            targets = [t for t in graph[vertex] if t in graph]
            if i < len(targets):
                work.append((vertex, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[vertex] = min(low[vertex], index[target])
                continue
            if low[vertex] == index[vertex]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                found.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
    return found


def _cycle(graph: dict[Vertex, list[Vertex]], members: set[Vertex], first: Vertex) -> list[Vertex]:
    """One cycle through `first` inside `members`, for the message (breadth first)."""
    came_from: dict[Vertex, Vertex] = {}
    todo = [first]
    while todo:
        vertex = todo.pop(0)
        for target in graph[vertex]:
            if target == first:
                path = [vertex]
                while path[-1] != first:
                    path.append(came_from[path[-1]])
                return [first, *reversed(path[:-1]), first] if len(path) > 1 else [first, first]
            if target in members and target not in came_from:
                came_from[target] = vertex
                todo.append(target)
    return [first, first]


def _idle_loops(sources: Sequence[_Source]) -> list[Problem]:
    graph = _idle_graph(sources)
    order = {(i, n): k for i, s in enumerate(sources) for k, n in enumerate(s.flow.nodes)}
    problems: list[Problem] = []
    for component in _strongly_connected(graph):
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue  # a single node that does not lead to itself
        leaves = any(t not in members for v in component for t in graph[v])
        for i in sorted({flow for flow, _ in component}):
            mine = min((v for v in component if v[0] == i), key=lambda v: order[v])
            loop = _cycle(graph, members, mine)
            problems.append(_loop_problem(sources, mine, loop, leaves))
    return problems


def _loop_problem(
    sources: Sequence[_Source], at: Vertex, loop: list[Vertex], leaves: bool
) -> Problem:
    source = sources[at[0]]
    steps = " -> ".join(n if i == at[0] else f"{sources[i].flow.name}:{n}" for i, n in loop)
    if leaves:
        # A condition or lookup may break out (a variable or the time changes): warn.
        message = f"these nodes may loop without waiting for the caller: {steps}"
        return source.problem(("nodes", at[1]), message, "warning")
    message = f"these nodes loop forever without waiting for the caller: {steps}"
    return source.problem(("nodes", at[1]), message)


# -- what flows must not share -----------------------------------------------------


def _numbers_claimed_twice(sources: Sequence[_Source]) -> Iterator[Problem]:
    """A dialed number can start only one flow: report it on every flow that claims it."""
    claims: dict[str, list[tuple[_Source, int]]] = {}
    for source in sources:
        for index, number in enumerate(source.flow.numbers):
            claims.setdefault(number, []).append((source, index))
    for number, owners in claims.items():
        files = {id(s) for s, _ in owners}
        if len(files) < 2:
            continue
        for source, index in owners:
            others = ", ".join(f"{s.flow.name!r} ({s.path})" for s, _ in owners if s is not source)
            message = f"number {number!r} is also claimed by flow {others}"
            yield source.problem(("numbers", index), message)


def _names_used_twice(sources: Sequence[_Source]) -> Iterator[Problem]:
    """goto flow: and the registry find flows by name, so a name must be unique."""
    by_name: dict[str, list[_Source]] = {}
    for source in sources:
        by_name.setdefault(source.flow.name, []).append(source)
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        for source in same:
            others = ", ".join(str(s.path) for s in same if s is not source)
            yield source.problem(("name",), f"flow name {name!r} is also used by {others}")
