"""A throwaway PostgreSQL server from the machine's binaries, for the suite and the benchmarks.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user and
every server command runs through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.support.ports import free_port
from tests.support.processes import terminate

START_TIMEOUT_S = 30


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here; the message says how to install them."""


@dataclass
class PostgresServer:
    url: str
    """SQLAlchemy URL of the ``postgres`` maintenance database."""
    process: subprocess.Popen[bytes] | None
    directory: Path | None

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, START_TIMEOUT_S)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def database_url(self, database: str) -> str:
        """SQLAlchemy URL of another database on this server."""
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def conninfo(self, database: str = "postgres") -> str:
        """libpq URL for psycopg itself."""
        url = make_url(self.url).set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)


def find_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(found)
    for candidate in candidates:
        return Path(candidate).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found: install the 'postgresql' package "
        "(apt-get install postgresql) or set THREADLINE_TEST_PG_URL"
    )


def start_postgres() -> PostgresServer:
    """Start a private server on a free loopback port, tuned for tests (no fsync)."""
    bindir = find_bindir()
    directory = Path(tempfile.mkdtemp(prefix="threadline-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = directory / "data"
    subprocess.run(
        [
            *as_user,
            *(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--no-sync", "--locale=C"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(
        [
            *as_user,
            *(str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory)),
            *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"),
            # A throwaway server: durability traded for speed.
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = PostgresServer(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", process, directory
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            psycopg.connect(server.conninfo(), connect_timeout=2).close()
            return server
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (directory / "server.log").read_text(errors="replace")[-2000:]
                server.stop()
                raise PostgresUnavailable(f"PostgreSQL did not start:\n{tail}") from None
            time.sleep(0.1)


def external_postgres(url: str) -> PostgresServer:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return PostgresServer(url, None, None)
