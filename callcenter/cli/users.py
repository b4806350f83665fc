"""`callcenter users …`: manage accounts from the server's shell.

Whoever has the shell could edit the database anyway, so these commands act with full
rights; they are audited with actor_kind "cli" and the operating-system user's name.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from callcenter.auth.permissions import Principal, Role
from callcenter.auth.service import AuthError, AuthService
from callcenter.config import load_settings
from callcenter.services import running_services

app = typer.Typer(no_args_is_help=True, help="Manage users and API tokens.")

T = TypeVar("T")


def _operator() -> Principal:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary container uid
        who = "unknown"
    return Principal.operator(f"cli:{who}"[:64], kind="cli")


def _run(action: Callable[[AuthService], Awaitable[T]]) -> T:
    """Start the services, run `action` with the auth service, report domain errors."""

    async def main() -> T:
        async with running_services(load_settings()) as services:
            return await action(services.auth)

    try:
        return asyncio.run(main())
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _ask_password(password: str | None) -> str:
    if password is not None:
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
def create(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, supervisor or agent")] = Role.AGENT,
    password: Annotated[
        str | None, typer.Option(help="Prompted for when omitted (keeps it out of history).")
    ] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str, typer.Option(help="en or zh")] = "en",
) -> None:
    """Create a user."""
    secret = _ask_password(password)
    user = _run(
        lambda auth: auth.create_user(
            username, secret, role.value, display_name, language=language, actor=_operator()
        )
    )
    typer.echo(f"created {user.role} {user.username} (id {user.id})")


@app.command("list")
def list_users() -> None:
    """List every user, active or not."""
    users = _run(lambda auth: auth.list_users())
    typer.echo(f"{'ID':>4}  {'USERNAME':<20} {'ROLE':<11} {'ACTIVE':<6} DISPLAY NAME")
    for u in users:
        active = "yes" if u.is_active else "no"
        typer.echo(f"{u.id:>4}  {u.username:<20} {u.role:<11} {active:<6} {u.display_name}")


@app.command("set-password")
def set_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Set a user's password."""
    secret = _ask_password(password)

    async def action(auth: AuthService) -> None:
        user = await auth.get_user_by_username(username)
        assert user.id is not None
        await auth.set_password(user.id, secret, actor=_operator())

    _run(action)
    typer.echo(f"password of {username} changed")


@app.command()
def deactivate(username: str) -> None:
    """Disable a user's logins and tokens (the account and its history stay)."""

    async def action(auth: AuthService) -> None:
        user = await auth.get_user_by_username(username)
        assert user.id is not None
        await auth.deactivate(user.id, actor=_operator())

    _run(action)
    typer.echo(f"{username} deactivated")


@app.command()
def token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'wallboard'.")],
    expires_days: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create an API token for a user and print it; it cannot be shown again."""

    async def action(auth: AuthService) -> str:
        user = await auth.get_user_by_username(username)
        _, plaintext = await auth.create_api_token(user, name, expires_days, actor=_operator())
        return plaintext

    plaintext = _run(action)
    typer.echo(plaintext)
    typer.echo("store it now: it is not stored and cannot be shown again", err=True)
