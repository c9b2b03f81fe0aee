"""A throwaway PostgreSQL server on loopback for tests and benchmarks.

It runs initdb into a temporary folder and starts `postgres` on a free port with fsync off.
PostgreSQL refuses to run as root, so as root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "okrbot-pg"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or None."""
    env = os.environ.get("OKRBOT_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists():
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_user() -> str | None:
    """The user to run PostgreSQL as: ourselves, or an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
        )
    return PG_USER


@dataclass
class PostgresServer:
    """A running throwaway server; `url(dbname)` gives a SQLAlchemy URL for one database."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="okrbot-pg-")))
    port: int = field(default_factory=_free_port)
    user: str | None = None

    def _as_user(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)

    def start(self) -> PostgresServer:
        self.user = _ensure_user()
        data = self.root / "data"
        if self.user:
            shutil.chown(self.root, user=self.user)
            os.chmod(self.root, 0o755)
        subprocess.run(
            self._as_user(
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            f"-c max_connections=200 -p {self.port}"
        )
        subprocess.run(
            self._as_user(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(self.root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            self._as_user(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str) -> None:
        """Run one statement as the superuser (CREATE DATABASE cannot run in a transaction)."""
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
        )


def start_server() -> PostgresServer:
    """Start a server, retrying once on a port taken between choosing and binding it."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb); run scripts/ensure-postgres")
    for attempt in range(2):
        server = PostgresServer(bindir=bindir)
        try:
            return server.start()
        except subprocess.CalledProcessError:
            server.stop()
            if attempt:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")
