"""Benchmark of the core: N normalized messages through accept + process, on SQLite and on
PostgreSQL. Prints messages/s and peak RSS per run, and the median of the runs.

    .venv/bin/python -m bench.core --messages 20000 --runs 3

Each run is a fresh process on a fresh database (so peak RSS is that run's alone), with three
agents and the real pipeline: identity, threading, status, notifications and outbox rows. The
PostgreSQL server is started from the machine's binaries as the test suite does, or taken
from ``THREADLINE_TEST_PG_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from bench.generator import messages
from tests.support.postgres import PostgresServer, external_postgres, start_postgres
from threadline.channels import normalized
from threadline.core.db import make_engine, session_factory
from threadline.core.intake import Intake, RawItem
from threadline.core.migrate import upgrade
from threadline.core.models import Ticket, User
from threadline.daemon.processing import processing
from threadline.daemon.settings import default_settings

ACCEPT_BATCH = 500


def one_run(url: str, count: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        session.add_all(
            User(name=f"Agent {n}", email=f"agent{n}@desk.example", type="agent") for n in range(3)
        )
    inbounds = list(messages(count))
    conversations = sum(
        not inbound.hints.in_reply_to and inbound.hints.subject_tag is None for inbound in inbounds
    )
    raws = [
        RawItem(normalized.CHANNEL, inbound.hints.own_id or "", normalized.encode(inbound))
        for inbound in inbounds
    ]
    settings = default_settings()
    intake = Intake(sessions)
    with processing(settings, sessions) as processor:
        started = time.perf_counter()
        for start in range(0, len(raws), ACCEPT_BATCH):
            intake.accept_many(raws[start : start + ACCEPT_BATCH])
        accepted = time.perf_counter()
        tally = processor.run_until_idle()
        finished = time.perf_counter()
    with sessions() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket))
    engine.dispose()
    if tally.done != count:
        raise SystemExit(f"only {tally.done} of {count} messages were stored: {tally}")
    if tickets != conversations:
        # Tag replies name tickets by the order conversations arrived in: a misthreaded run
        # must not print a figure.
        raise SystemExit(f"{tickets} tickets for {conversations} conversations")
    return {
        "messages_per_s": count / (finished - started),
        "accept_per_s": count / (accepted - started),
        "process_per_s": count / (finished - accepted),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def fresh_url(backend: str, directory: Path, server: PostgresServer | None, run: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / f'bench-{run}.db'}"
    assert server is not None
    name = f"threadline_bench_{os.getpid()}_{run}"
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.database_url(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--one", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.messages)))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    server = None
    if "postgresql" in backends:
        url = os.environ.get("THREADLINE_TEST_PG_URL")
        server = external_postgres(url) if url else start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
            for backend in backends:
                results = []
                for run in range(args.runs):
                    url = fresh_url(backend, Path(directory), server, run)
                    output = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "bench.core",
                            "--one",
                            url,
                            "--messages",
                            str(args.messages),
                        ],
                        check=True,
                        capture_output=True,
                        text=True,
                        timeout=1800,
                    ).stdout
                    result = json.loads(output.splitlines()[-1])
                    results.append(result)
                    print(
                        f"{backend} run {run + 1}: {result['messages_per_s']:.0f} messages/s "
                        f"(accept {result['accept_per_s']:.0f}/s, "
                        f"process {result['process_per_s']:.0f}/s), "
                        f"peak RSS {result['peak_rss_mb']:.0f} MB",
                        flush=True,
                    )
                median = statistics.median(r["messages_per_s"] for r in results)
                peak = max(r["peak_rss_mb"] for r in results)
                print(
                    f"{backend}: median {median:.0f} messages/s over {args.runs} runs of "
                    f"{args.messages}, peak RSS {peak:.0f} MB",
                    flush=True,
                )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
