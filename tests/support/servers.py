"""Throwaway PostgreSQL and Redis servers for tests and benchmarks.

Each server lives in its own temporary directory on a free loopback port, is tuned for
speed over durability (no fsync, no persistence), and is deleted when stopped: tests never
touch a system service or each other's data. Used by tests/conftest.py and bench/.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def _pg_bin() -> Path:
    """PostgreSQL 15 as in production; else the newest the Debian packages installed."""
    if override := os.environ.get("CALLCENTER_TEST_PG_BIN"):
        return Path(override)
    preferred = Path("/usr/lib/postgresql/15/bin")
    if preferred.is_dir():
        return preferred
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else preferred


PG_BIN = _pg_bin()
REDIS_SERVER = os.environ.get("CALLCENTER_TEST_REDIS_SERVER", "redis-server")


class ServerUnavailable(RuntimeError):
    """The server binaries are not installed (tests skip on this, and only on this)."""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")
        time.sleep(0.02)


# --------------------------------------------------------------------------- PostgreSQL


def postgres_available() -> bool:
    return (PG_BIN / "initdb").is_file() and (PG_BIN / "pg_ctl").is_file()


@dataclass
class PostgresServer:
    """A private PostgreSQL cluster: trust auth on 127.0.0.1, user `postgres`."""

    port: int
    root: Path
    user: str = "postgres"
    _as_user: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL; the default driver form works for `Database` and for Settings."""
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create a database (optionally a copy of `template`, which is fast); return its name."""
        name = name or f"cc_{uuid.uuid4().hex[:12]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop_database(self, name: str) -> None:
        # FORCE (PostgreSQL 13+) ends sessions a failed test may have left open.
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.datadir.exists():
            subprocess.run(
                [
                    *self._as_user,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(port: int | None = None) -> PostgresServer:
    """initdb + pg_ctl start a fresh cluster; about a second on a normal machine.

    PostgreSQL refuses to run as root, so as root the cluster directory is handed to the
    `postgres` system user (created by the Debian package) and the binaries run as it.
    """
    if not postgres_available():
        raise ServerUnavailable(f"PostgreSQL binaries not found in {PG_BIN}")
    port = port or free_port()
    # mkdtemp is 0700 and directly in /tmp, so the postgres user can reach it once it
    # owns it (a pytest tmp_path under /tmp/pytest-of-root/ would not be reachable).
    root = Path(tempfile.mkdtemp(prefix="callcenter-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(
                "PostgreSQL refuses to run as root and there is no `postgres` user; "
                "reinstall the postgresql package (scripts/bootstrap.sh test)"
            ) from None
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(port=port, root=root, _as_user=as_user)
    try:
        subprocess.run(
            [
                *as_user,
                str(PG_BIN / "initdb"),
                "-D",
                str(server.datadir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
        )
        # Durability off: a test cluster that loses data on a crash is simply rebuilt.
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [
                *as_user,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(server.datadir),
                "-o",
                options,
                "-l",
                str(root / "postgres.log"),
                "-w",
                "-t",
                "30",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        log = (root / "postgres.log").read_text() if (root / "postgres.log").exists() else ""
        server.stop()
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}\n{log}"
        ) from exc
    return server


# --------------------------------------------------------------------------- Redis


def redis_available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


@dataclass
class RedisServer:
    """A private redis-server without persistence; `restart()` keeps the port."""

    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 10, self.proc)

    def kill(self) -> None:
        """SIGKILL, like a crash: clients see their connections drop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis(port: int | None = None) -> RedisServer:
    """Start redis-server on a free port; a few tens of milliseconds."""
    if not redis_available():
        raise ServerUnavailable(f"{REDIS_SERVER} not found")
    server = RedisServer(port=port or free_port(), root=Path(tempfile.mkdtemp(prefix="cc-redis-")))
    server.start()
    return server
