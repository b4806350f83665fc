"""Queues and routing rules for the admin pages: what routing.yaml says, what is wrong."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status

from callcenter.api.deps import ServicesDep, require
from callcenter.api.routes.ivr import flow_registry
from callcenter.auth.permissions import Permission, Principal
from callcenter.ivr import model as m
from callcenter.ivr.loader import Problem
from callcenter.routing.config import QueueConfig, Routing, RoutingError, load_routing
from callcenter.routing.editing import delete_queue, put_queue, write_atomically
from callcenter.routing.model import QueueSpec
from callcenter.routing.rules import Rule
from callcenter.services import Services

router = APIRouter(prefix="/api/routing", tags=["routing"])
Admin = Annotated[Principal, Depends(require(Permission.PBX_MANAGE))]
QueueName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# One edit of routing.yaml at a time: each reads the file the previous one wrote.
_editing = asyncio.Lock()


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
    queues = [_queue(spec) for spec in loaded.queues]
    rules = [_rule(rule) for rule in loaded.rules]
    return {"file": str(path), "queues": queues, "rules": rules,
            "problems": [_problem(p) for p in loaded.warnings]}  # fmt: skip


@router.put("/queues/{name}")
async def save_queue(
    name: QueueName, settings: QueueConfig, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    """Add or replace a queue in routing.yaml; calls waiting in it keep their places.

    Only the options sent are written (the others keep their defaults), the rest of the
    file and its comments stay as they were, and the running router takes it at once.
    """
    wanted = settings.model_dump(mode="json", exclude_unset=True)
    routing = await _edit(services, lambda text, file: put_queue(text, name, wanted, file))
    return _queue(next(q for q in routing.queues if q.name == name))


@router.delete("/queues/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_queue(name: QueueName, services: ServicesDep, _: Admin) -> None:
    """Remove a queue nothing uses: no IVR flow sends calls to it and none is waiting."""
    users = [flow.name for flow in (await flow_registry(services)).flows if _sends_to(flow, name)]
    if users:
        raise HTTPException(409, f"IVR flow {users[0]!r} sends calls to queue {name!r}")
    held = services.routing.router.holding(name)
    if held:
        raise HTTPException(409, f"queue {name!r} holds {held} task(s) now; try when empty")
    await _edit(services, lambda text, file: delete_queue(text, name, file))


async def _edit(services: Services, change: Callable[[str, str], tuple[str, Routing]]) -> Routing:
    """Change routing.yaml if the whole result is valid, then apply it to the router."""
    path = services.settings.routing_file
    async with _editing:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        try:
            new_text, routing = change(text, str(path))
        except KeyError as exc:
            raise HTTPException(404, f"no queue named {exc.args[0]!r}") from None
        except RoutingError as exc:
            raise HTTPException(422, [_problem(p) for p in exc.problems]) from None
        await asyncio.to_thread(write_atomically, path, new_text)
        await services.routing.configure(routing)
    return routing


def _queue(spec: QueueSpec) -> dict[str, Any]:
    queue = dataclasses.asdict(spec)
    queue["skills"] = dict(spec.skills)
    return queue


def _sends_to(flow: m.Flow, queue: str) -> bool:
    return any(isinstance(n, m.QueueNode) and n.queue == queue for n in flow.nodes.values())
