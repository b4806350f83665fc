"""`callcenter ivr`: check, try and draw the YAML flows in ivr_flows/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callcenter.cli import ivr_tools
from callcenter.config import load_settings
from callcenter.ivr.loader import FlowError, FlowSet, Problem, load_flow_source, load_flows
from callcenter.ivr.schema import schema_text
from callcenter.ivr.validate import validate_flows
from callcenter.routing.config import RoutingError, load_routing

app = typer.Typer(no_args_is_help=True, help=__doc__)
ivr_tools.register(app)


@app.command()
def validate(
    path: Annotated[
        Path | None,
        typer.Argument(help="A flow file or a folder of flows (default: CALLCENTER_FLOWS_DIR)."),
    ] = None,
    media: Annotated[
        Path | None,
        typer.Option(help="Where `file` prompts live (default: CALLCENTER_MEDIA_DIR)."),
    ] = None,
    routing: Annotated[
        Path | None,
        typer.Option(help="Queues that `queue` nodes may name (default: CALLCENTER_ROUTING_FILE)."),
    ] = None,
) -> None:
    """Check flows; print each problem as file:line:column, exit 1 if any is an error.

    A single file is checked together with the other flows of its folder (a goto to
    another flow, a number claimed twice) but only its own problems are shown.
    """
    if path is None or media is None or routing is None:
        settings = load_settings()
        path = path if path is not None else settings.flows_dir
        media = media if media is not None else settings.media_dir
        routing = routing if routing is not None else settings.routing_file
    if not path.exists():
        typer.echo(f"callcenter ivr validate: {path}: no such file or folder", err=True)
        raise typer.Exit(2)
    problems, checked = check(path, media, _queues(routing))
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(summary(problems, checked, path))
    if any(p.severity == "error" for p in problems):
        raise typer.Exit(1)


def _queues(routing: Path) -> list[str] | None:
    """The queue names of a usable routing file; None (no check) when there is none.

    A broken routing file is `callcenter routing validate`'s to report, not this one's.
    """
    try:
        return load_routing(routing).queue_names() if routing.is_file() else None
    except RoutingError:
        return None


def check(
    path: Path, media_dir: Path, queues: list[str] | None = None
) -> tuple[list[Problem], int]:
    """The problems of a flow file or folder, and how many files were checked."""
    folder = path if path.is_dir() else path.parent
    flows = load_flows(folder)
    if not path.is_dir() and path not in flows.files:
        flows = _with_file(flows, path)  # a file named outside the usual suffixes
    problems = flows.problems + validate_flows(flows.pairs, media_dir, queues)
    problems.sort(key=lambda p: (p.file, p.line, p.column))
    if not path.is_dir():
        problems = [p for p in problems if Path(p.file) == path]
        return problems, 1
    return problems, len(flows.files)


def _with_file(flows: FlowSet, path: Path) -> FlowSet:
    flows.files.append(path)
    try:
        flows.flows.append(load_flow_source(path))
    except FlowError as exc:
        flows.problems.extend(exc.problems)
    return flows


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(problems: list[Problem], files: int, path: Path) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    checked = _count(files, "file")
    if not problems:
        return f"{path}: {checked} checked, no problems"
    return f"{path}: {checked} checked, {_count(errors, 'error')}, {_count(warnings, 'warning')}"


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of flow files (committed as ivr_flows/flow.schema.json)."""
    if output is None:
        typer.echo(schema_text(), nl=False)
    else:
        output.write_text(schema_text(), encoding="utf-8")
        typer.echo(f"wrote {output}")
