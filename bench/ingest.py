"""Benchmark of ``threadline ingest``: the wall time of one mail piped in, start-up included, as
an MTA's pipe transport runs it once per mail. Prints the median, min and max of the runs.

    .venv/bin/python -m bench.ingest                                    # SQLite
    .venv/bin/python -m bench.ingest postgresql://postgres@127.0.0.1:5432/postgres  # and PostgreSQL

Each database is fresh and upgraded: a SQLite file, and a new database on the server the
optional URL names (created and dropped through it, so its user needs CREATEDB). One untimed run
first writes the bytecode caches; then each timed run is ``threadline ingest --channel email`` as
a subprocess with a mail of a new Message-ID on standard input, which must exit 0 and say
``accepted``, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.core import fresh_url
from tests.support.postgres import PostgresServer, external_postgres
from threadline.core.db import make_engine
from threadline.core.migrate import upgrade

THREADLINE = str(Path(sys.executable).with_name("threadline"))
TIMEOUT_S = 60


def mail() -> bytes:
    """A typical short customer mail, under a Message-ID no run has used."""
    return (
        "Return-Path: <ada@example.com>\r\n"
        "Delivered-To: support@desk.example\r\n"
        "From: Ada Lovelace <ada@example.com>\r\n"
        "To: Support <support@desk.example>\r\n"
        "Subject: The printer is on fire\r\n"
        "Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4()}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n" + "Hello, the printer on the second floor is on fire again.\r\n" * 20
    ).encode()


def ingest(url: str) -> float:
    """Seconds of one ``threadline ingest`` of a new mail, from start to exit."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = url
    raw = mail()
    started = time.perf_counter()
    done = subprocess.run(
        [THREADLINE, "ingest", "--channel", "email"],
        input=raw,
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or b"accepted as inbound item" not in done.stdout:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr.decode().strip()}")
    return elapsed


def measure(name: str, url: str, runs: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    ingest(url)
    times = [ingest(url) for _ in range(runs)]
    print(
        f"{name}: median {statistics.median(times) * 1000:.0f} ms over {runs} runs "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})",
        flush=True,
    )


def drop(server: PostgresServer, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("postgresql_url", nargs="?", help="a PostgreSQL server to measure too")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
        measure("sqlite", fresh_url("sqlite", Path(directory), None, 0), args.runs)
    if args.postgresql_url:
        server = external_postgres(args.postgresql_url)
        url = fresh_url("postgresql", Path(), server, 0)
        try:
            measure("postgresql", url, args.runs)
        finally:
            drop(server, url)


if __name__ == "__main__":
    main()
