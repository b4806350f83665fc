"""`callcenter ivr simulate` and `callcenter ivr graph`: try and see a flow without a phone."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from callcenter.config import load_settings
from callcenter.ivr.graph import GraphError, to_dot, to_svg
from callcenter.ivr.model import Flow
from callcenter.ivr.registry import FlowRegistry
from callcenter.ivr.simulate import simulate


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
    app.command("graph")(graph_command)


def _registry(flows_dir: Path | None) -> FlowRegistry:
    settings = load_settings()
    registry = FlowRegistry(flows_dir or settings.flows_dir, settings.media_dir)
    registry.reload()
    errors = [p for p in registry.problems if p.severity == "error"]
    if errors:
        for problem in errors:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1)
    return registry


def _flow(registry: FlowRegistry, name: str) -> Flow:
    flow = registry.flow(name) or registry.for_number(name)
    if flow is None:
        known = ", ".join(sorted(f.name for f in registry.flows)) or "none"
        typer.echo(f"no flow named or dialed as {name!r} (flows: {known})", err=True)
        raise typer.Exit(1)
    return flow


def simulate_command(
    flow: Annotated[str, typer.Argument(help="A flow name, or a number it answers.")],
    *,
    dtmf: Annotated[str, typer.Option(help="What the caller types; a comma = silence.")] = "",
    say: Annotated[
        list[str] | None, typer.Option(help="A phrase said at a speech menu (repeatable).")
    ] = None,
    caller: Annotated[str, typer.Option(help="The caller's number.")] = "+15550100",
    at: Annotated[
        datetime | None,
        typer.Option(
            help="When the call happens, e.g. 2026-11-23T20:00+08:00.",
            formats=[
                "%Y-%m-%dT%H:%M%z",
                "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%dT%H:%M",
            ],
        ),
    ] = None,
    customer_class: Annotated[str, typer.Option(help="new, returning or vip.")] = "new",
    flows_dir: Annotated[Path | None, typer.Option(help="Default: CALLCENTER_FLOWS_DIR.")] = None,
) -> None:
    """Print the path a call would take through FLOW."""
    registry = _registry(flows_dir)
    when = at.astimezone() if at is not None else None
    outcome, lines = asyncio.run(
        simulate(
            _flow(registry, flow),
            dtmf=dtmf,
            said=say or [],
            caller=caller,
            at=when,
            customer_class=customer_class,
            flows=registry,
        )
    )
    typer.echo("\n".join(lines))
    if outcome.variables:
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(outcome.variables.items()))
        typer.echo(f"variables: {shown}")


def graph_command(
    flow: Annotated[str, typer.Argument(help="A flow name, or a number it answers.")],
    output: Annotated[Path | None, typer.Option("-o", help="Write here (default: stdout).")] = None,
    dot: Annotated[bool, typer.Option(help="Graphviz DOT text instead of SVG.")] = False,
    flows_dir: Annotated[Path | None, typer.Option(help="Default: CALLCENTER_FLOWS_DIR.")] = None,
) -> None:
    """Draw FLOW as SVG (through Graphviz `dot`)."""
    chosen = _flow(_registry(flows_dir), flow)
    try:
        text = to_dot(chosen) if dot else to_svg(chosen)
    except GraphError as exc:
        typer.echo(f"callcenter ivr graph: {exc}", err=True)
        raise typer.Exit(1) from None
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
