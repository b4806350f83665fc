"""`callcenter users …` end to end on a SQLite file, with the real service stack."""

import sqlite3
from contextlib import asynccontextmanager

import pytest
from sqlmodel import SQLModel
from typer.testing import CliRunner

from callcenter.auth.models import ApiToken, AuditEntry, User
from callcenter.cli import users as users_cli
from callcenter.services import running_services

TABLES = [User.__table__, ApiToken.__table__, AuditEntry.__table__]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CALLCENTER_ENV", "test")
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path))

    @asynccontextmanager
    async def services_without_migrations(settings, **kw):
        # Tables from the models: this tests the commands, not the migration files.
        async with running_services(settings, migrate=False) as services:
            async with services.db.engine.begin() as conn:
                await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=TABLES))
            yield services

    monkeypatch.setattr(users_cli, "running_services", services_without_migrations)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(users_cli.app, list(args), input=input)

    return run


def test_create_list_password_token(cli, tmp_path):
    r = cli("create", "alice", "--role", "supervisor", "--password", "long password")
    assert r.exit_code == 0, r.output
    assert "created supervisor alice" in r.output

    r = cli("create", "bob", input="bob's secret\nbob's secret\n")  # prompted, confirmed
    assert r.exit_code == 0, r.output

    r = cli("create", "alice", "--password", "long password")
    assert r.exit_code == 1
    assert "already taken" in r.output

    r = cli("list")
    assert r.exit_code == 0
    assert "alice" in r.output and "supervisor" in r.output and "bob" in r.output

    r = cli("set-password", "bob", "--password", "another secret")
    assert r.exit_code == 0, r.output
    assert cli("set-password", "nobody", "--password", "another secret").exit_code == 1

    r = cli("token", "alice", "--name", "wallboard")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().startswith("cc_")

    r = cli("deactivate", "bob")
    assert r.exit_code == 0, r.output
    assert "no" in next(line for line in cli("list").output.splitlines() if "bob" in line)

    with sqlite3.connect(tmp_path / "callcenter.db") as conn:
        rows = conn.execute("SELECT actor_kind, actor_name, action FROM audit_log").fetchall()
    assert {kind for kind, _, _ in rows} == {"cli"}
    assert all(name.startswith("cli:") for _, name, _ in rows)
    assert [a for _, _, a in rows].count("user.create") == 2
    assert "api_token.create" in [a for _, _, a in rows]
