"""Benchmark of the outbox: a backlog of email replies drained by 1, 2 or 3 daemons on one
PostgreSQL (or one on SQLite) to a local SMTP sink that accepts everything. Prints, per
instance count, the emails a second, the seconds to drain, the CPU the daemons (with their
compose workers) spent a mail and that of the whole machine (daemons, database, sink), how busy
the machine was, each daemon's peak RSS and its helper processes', and what the sink received.

    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 2 3
    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 --sink smtp-sink
    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 --backend sqlite
    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 --compose-workers 0

Each run has a fresh database: ROWS tickets, each with a client's mail (and its Message-ID)
and an agent's reply. The daemons (``threadline run``, the daemon as operators run it) start
with an empty outbox; then one transaction queues a reply row per ticket, and the clock runs
from its commit until every row is ``sent`` (on SQLite, which has no wake-up between
processes, the daemon finds the rows at its next outbox sweep, set to every second). Each
mail is composed as in production: read the ticket, thread to the client's mail, sign the
reply address. The sink (``bench/smtp_sinks.py``: aiosmtpd, or Postfix's smtp-sink, its own
process) counts the mails it accepted, so a row sent twice would show.

The PostgreSQL server is started from the machine's binaries as the test suite does, or taken
from ``THREADLINE_TEST_PG_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from bench.core import fresh_url
from bench.smtp_sinks import KINDS, SinkProcess
from tests.support.daemon import DaemonProcess, write_config
from tests.support.ports import free_port
from tests.support.postgres import external_postgres, start_postgres
from threadline.core.db import make_engine
from threadline.core.migrate import upgrade
from threadline.core.models import (
    Client,
    ClientExternalId,
    Message,
    MessageRef,
    OutboxItem,
    Ticket,
    User,
)

CHUNK = 5000
DRAIN_TIMEOUT_S = 900
NOW = datetime(2026, 12, 7, 10, 0)


def fill(url: str, rows: int) -> None:
    """ROWS tickets, each with a client's mail and an agent's reply waiting to be sent."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(insert(User), [{"id": 1, "name": "Agent", "email": "agent@desk.test"}])
        for start in range(1, rows + 1, CHUNK):
            ids = range(start, min(start + CHUNK, rows + 1))
            connection.execute(insert(Client), [{"id": i, "name": f"Client {i}"} for i in ids])
            connection.execute(
                insert(ClientExternalId),
                [{"client_id": i, "type": "email", "value": f"client{i}@example.org"} for i in ids],
            )
            connection.execute(
                insert(Ticket),
                [
                    {"id": i, "title": f"Printer {i} jams", "client_id": i, "created_at": NOW}
                    for i in ids
                ],
            )
            connection.execute(
                insert(Message),
                [
                    {
                        "id": 2 * i - 1,
                        "ticket_id": i,
                        "client_id": i,
                        "user_id": None,
                        "channel": "email",
                        "body": "The printer jams on every second page. " * 10,
                        "created_at": NOW,
                    }
                    for i in ids
                ]
                + [
                    {
                        "id": 2 * i,
                        "ticket_id": i,
                        "client_id": None,
                        "user_id": 1,
                        "channel": None,
                        "body": "Please open the back cover and remove the roller. " * 6,
                        "created_at": NOW + timedelta(minutes=5),
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(MessageRef),
                [
                    {
                        "channel": "email",
                        "external_id": f"jam-{i}@example.org",
                        "ticket_id": i,
                        "message_id": 2 * i - 1,
                    }
                    for i in ids
                ],
            )
    engine.dispose()


def queue_replies(url: str, rows: int) -> float:
    """Queues a reply per ticket in one transaction; the monotonic time of its commit."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for start in range(1, rows + 1, CHUNK):
            ids = range(start, min(start + CHUNK, rows + 1))
            connection.execute(
                insert(OutboxItem),
                [
                    {
                        "idempotency_key": f"reply:{2 * i}:client{i}@example.org",
                        "channel": "email",
                        "kind": "reply",
                        "recipient": f"client{i}@example.org",
                        "ticket_id": i,
                        "message_id": 2 * i,
                        "payload": {"body": "Please open the back cover and remove the roller."},
                    }
                    for i in ids
                ],
            )
        if connection.dialect.name == "postgresql":
            connection.execute(text("NOTIFY threadline_outbox"))
    committed = time.monotonic()
    engine.dispose()
    return committed


def wait_until_sent(url: str, rows: int) -> float:
    engine = make_engine(url)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    counted = select(func.count()).where(OutboxItem.status == "sent")
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                if connection.scalar(counted) >= rows:
                    return time.monotonic()
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise TimeoutError(f"the outbox was not drained within {DRAIN_TIMEOUT_S} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system time the process and its helpers (compose workers) have used so far."""
    total = 0.0
    for process in (pid, *helpers(pid)):
        fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def helpers(pid: int) -> list[int]:
    """The processes the daemon started, from any of its threads (compose workers,
    multiprocessing's resource tracker)."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent on anything but idling, all cores together."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def one_run(
    url: str, rows: int, instances: int, directory: Path, sink_kind: str, compose_workers: str
) -> dict[str, object]:
    fill(url, rows)
    port = free_port()
    sink = SinkProcess(sink_kind, port, directory)
    env = {
        "THREADLINE_SMARTHOST__PORT": str(port),
        "THREADLINE_LOGGING__LEVEL": "warning",
        "THREADLINE_DISPATCH__SWEEP_INTERVAL": "1",
        "THREADLINE_SMARTHOST__COMPOSE_WORKERS": compose_workers,
    }
    daemons = []
    try:
        for n in range(instances):
            http_port = free_port()
            config = write_config(directory / f"daemon-{n}.toml", url, http_port)
            daemons.append(DaemonProcess(config, http_port, directory, env))
        for daemon in daemons:
            daemon.wait_until_serving()
        cpu_before = [cpu_seconds(daemon.process.pid) for daemon in daemons]
        started = queue_replies(url, rows)
        busy_before = machine_busy_seconds()
        drained = wait_until_sent(url, rows)
        busy = machine_busy_seconds() - busy_before
        cpu = [cpu_seconds(d.process.pid) - b for d, b in zip(daemons, cpu_before, strict=True)]
        rss = [round(peak_rss_mb(daemon.process.pid)) for daemon in daemons]
        helper_rss = [
            [round(peak_rss_mb(helper)) for helper in helpers(daemon.process.pid)]
            for daemon in daemons
        ]
    finally:
        for daemon in daemons:
            daemon.stop(timeout=30)
        accepted = sink.stop()
    seconds = drained - started
    return {
        "sink": sink_kind,
        "compose_workers": compose_workers,
        "instances": instances,
        "rows": rows,
        "seconds": round(seconds, 2),
        "emails_per_s": round(rows / seconds),
        "daemon_cpu_ms_per_email": round(sum(cpu) * 1000 / rows, 3),
        "machine_cpu_ms_per_email": round(busy * 1000 / rows, 3),
        "machine_busy": f"{busy / (seconds * os.cpu_count()):.0%}",
        "peak_rss_mb": rss,
        "helpers_peak_rss_mb": helper_rss,
        "sink_accepted": accepted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--backend",
        choices=["postgresql", "sqlite"],
        default="postgresql",
        help="sqlite: one instance, which finds the rows at its next outbox sweep (1 s)",
    )
    parser.add_argument(
        "--sink",
        choices=KINDS,
        default="aiosmtpd",
        help="smtp-sink: Postfix's, which takes far less of the machine (bench/smtp_sinks.py)",
    )
    parser.add_argument(
        "--compose-workers",
        default="auto",
        help="smarthost.compose_workers of the daemons: 0 composes every mail in the daemon",
    )
    args = parser.parse_args()
    if args.backend == "sqlite" and args.instances != [1]:
        parser.error("SQLite takes one instance: --instances 1")
    server = None
    if args.backend == "postgresql":
        url = os.environ.get("THREADLINE_TEST_PG_URL")
        server = external_postgres(url) if url else start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
            for run, instances in enumerate(args.instances):
                url = fresh_url(args.backend, Path(directory), server, run)
                result = one_run(
                    url, args.rows, instances, Path(directory), args.sink, args.compose_workers
                )
                print(json.dumps(result), flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
