"""Queues and routing rules for the admin pages: what routing.yaml says, what is wrong."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.ivr.loader import Problem
from callcenter.routing.config import RoutingError, load_routing
from callcenter.routing.rules import Rule

router = APIRouter(prefix="/api/routing", tags=["routing"])
Admin = Annotated[Principal, Depends(require(Permission.PBX_MANAGE))]


def _rule(rule: Rule) -> dict[str, Any]:
    when = {name: list(values) for name, values in rule.when.items()}
    return {"when": when, "queue": rule.queue, "skills": dict(rule.skills),
            "priority": rule.priority}  # fmt: skip


def _problem(problem: Problem) -> dict[str, Any]:
    return dataclasses.asdict(problem)


@router.get("")
async def routing(services: ServicesDep, _: Admin) -> dict[str, Any]:
    """The routing file as loaded now: queues, rules, and every problem with its place."""
    path = services.settings.routing_file
    try:
        loaded = await asyncio.to_thread(load_routing, path)
    except RoutingError as exc:
        return {"file": str(path), "queues": [], "rules": [],
                "problems": [_problem(p) for p in exc.problems]}  # fmt: skip
    queues = []
    for spec in loaded.queues:
        queue = dataclasses.asdict(spec)
        queue["skills"] = dict(spec.skills)
        queues.append(queue)
    rules = [_rule(rule) for rule in loaded.rules]
    return {"file": str(path), "queues": queues, "rules": rules,
            "problems": [_problem(p) for p in loaded.warnings]}  # fmt: skip
