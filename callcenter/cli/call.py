"""`callcenter call NUMBER`: a real SIP call into the PBX through the carrier simulator."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from callcenter.config import load_settings
from callcenter.pbx.carrier import DEFAULT_CALLER, place_call
from callcenter.pbx.sandbox import PbxError


def call(
    number: Annotated[str, typer.Argument(help="The dialed number (DID) the caller calls.")],
    dtmf: Annotated[str, typer.Option(help="Digits to send after answer (RFC 4733).")] = "",
    audio: Annotated[
        Path | None, typer.Option(help="A WAV the caller plays first (any rate; converted).")
    ] = None,
    hold: Annotated[float, typer.Option(help="Seconds to stay on the line afterwards.")] = 3.0,
    caller: Annotated[str, typer.Option(help="The caller's number (caller ID).")] = DEFAULT_CALLER,
) -> None:
    """Call NUMBER as an outside caller would, and print what happened."""
    settings = load_settings()
    try:
        report = asyncio.run(place_call(settings, number, dtmf, audio, hold, caller=caller))
    except PbxError as exc:
        print(f"callcenter call: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    print("\n".join(report.lines()))
    if not report.answered:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add `callcenter call` to the top-level app."""
    app.command("call")(call)
