"""`callcenter routing`: check routing.yaml and try its rules without a call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callcenter.config import load_settings
from callcenter.routing.config import RoutingError, load_routing
from callcenter.routing.rules import region_for_number, route

app = typer.Typer(no_args_is_help=True, help=__doc__)

PathArgument = Annotated[
    Path | None, typer.Argument(help="The routing file (default: CALLCENTER_ROUTING_FILE).")
]


def _path(path: Path | None) -> Path:
    path = path if path is not None else load_settings().routing_file
    if not path.is_file():
        typer.echo(f"callcenter routing: {path}: no such file", err=True)
        raise typer.Exit(2)
    return path


@app.command()
def validate(path: PathArgument = None) -> None:
    """Check queues and rules; print each problem as file:line:column, exit 1 on errors."""
    path = _path(path)
    try:
        routing = load_routing(path)
    except RoutingError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        errors = sum(p.severity == "error" for p in exc.problems)
        typer.echo(f"{path}: {errors} error(s)")
        raise typer.Exit(1) from None
    for problem in routing.warnings:
        typer.echo(str(problem))
    typer.echo(f"{path}: {len(routing.queues)} queues, {len(routing.rules)} rules, no errors")


@app.command("try")
def try_rules(
    queue: Annotated[str, typer.Argument(help="The queue the IVR or chat asks for.")],
    *,
    number: Annotated[str, typer.Option(help="The caller's number.")] = "",
    tier: Annotated[str, typer.Option(help="Customer class: new, returning, vip …")] = "new",
    channel: Annotated[str, typer.Option(help="voice or chat.")] = "voice",
    language: Annotated[str, typer.Option(help="en or zh.")] = "en",
    path: Annotated[Path | None, typer.Option(help="The routing file.")] = None,
) -> None:
    """Show where a task would go: queue, extra skills, priority, rules that matched."""
    try:
        routing = load_routing(_path(path))
    except RoutingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if queue not in routing.queue_names():
        typer.echo(f"callcenter routing: no queue {queue!r} in the routing file", err=True)
        raise typer.Exit(2)
    attributes = {"region": region_for_number(number), "tier": tier, "channel": channel,
                  "language": language, "number": number}  # fmt: skip
    decided = route(routing.rules, queue, attributes)
    skills = dict(routing.queues[routing.queue_names().index(decided.queue)].skills)
    skills.update(decided.skills)
    typer.echo(f"region {attributes['region'] or '(unknown)'}")
    typer.echo(f"queue {decided.queue}, skills {skills}, priority {decided.priority}")
    typer.echo(f"rules matched: {', '.join(f'#{i + 1}' for i in decided.matched) or 'none'}")
