"""The flows a running server uses, reloaded when their files change.

A running server never takes an invalid flow: a file that fails to load keeps its last
good version, and a set of flows that fails the cross-checks (a goto to a flow that is
gone, a number claimed twice) is not taken at all; either way the problems are logged
and kept in `problems` for the admin page. Calls keep the `Flow` object they started
with, so an edit never changes a call in progress.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.ivr.loader import FlowError, load_flow
from callcenter.ivr.model import Flow
from callcenter.ivr.validate import Problem, validate_flows

log = logging.getLogger(__name__)

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass
class _Loaded:
    flow: Flow
    stamp: tuple[int, int]  # (mtime_ns, size) of the file it came from


@dataclass
class FlowRegistry:
    directory: Path
    media_dir: Path
    problems: list[Problem] = field(default_factory=list)
    _files: dict[Path, _Loaded] = field(default_factory=dict)
    _by_name: dict[str, Flow] = field(default_factory=dict)
    _by_number: dict[str, Flow] = field(default_factory=dict)
    _stamps: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def flow(self, name: str) -> Flow | None:
        return self._by_name.get(name)

    def for_number(self, number: str) -> Flow | None:
        return self._by_number.get(number)

    @property
    def flows(self) -> list[Flow]:
        return list(self._by_name.values())

    def reload(self) -> bool:
        """Read changed files; take the new set if it is valid. True if anything changed."""
        stamps = _stamps(self.directory)
        if stamps == self._stamps:
            return False
        self._stamps = stamps
        problems: list[Problem] = []
        files: dict[Path, _Loaded] = {}
        for path, stamp in stamps.items():
            previous = self._files.get(path)
            if previous is not None and previous.stamp == stamp:
                files[path] = previous
                continue
            try:
                files[path] = _Loaded(load_flow(path), stamp)
            except FlowError as exc:
                problems.extend(exc.problems)
                if previous is not None:
                    files[path] = previous  # the last good version keeps serving
        checked = validate_flows([(f.flow, p) for p, f in files.items()], self.media_dir)
        errors = [p for p in checked if p.severity == "error"]
        problems.extend(checked)
        self.problems = problems
        for problem in problems:
            log.log(
                logging.ERROR if problem.severity == "error" else logging.WARNING,
                "IVR flow %s",
                problem,
            )
        if errors:
            log.error("IVR flows: %d error(s); still using the previous flows", len(errors))
            return False
        self._take(files)
        return True

    def _take(self, files: dict[Path, _Loaded]) -> None:
        self._files = files
        self._by_name = {f.flow.name: f.flow for f in files.values()}
        self._by_number = {n: f.flow for f in files.values() for n in f.flow.numbers}
        log.info(
            "IVR flows: %s", ", ".join(sorted(self._by_name)) or "none (calls get the greeting)"
        )

    async def watch(self, interval: float) -> None:
        """Reload whenever a file changes; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload)
            except Exception:
                log.exception("IVR flows: reload failed")


def _stamps(directory: Path) -> dict[Path, tuple[int, int]]:
    if not directory.is_dir():
        return {}
    stamps = {}
    for path in sorted(directory.iterdir()):
        if path.suffix in FLOW_SUFFIXES and path.is_file():
            stat = path.stat()
            stamps[path] = (stat.st_mtime_ns, stat.st_size)
    return stamps
