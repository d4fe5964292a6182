"""Benchmark of the outbox: a backlog of email replies drained by 1, 2 or 3 daemons on one
PostgreSQL (or one on SQLite) to a local SMTP sink that accepts everything. Prints, per
instance count, the emails a second, the seconds to drain, each daemon's peak RSS and what the
sink received.

    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 2 3
    .venv/bin/python -m bench.dispatch --rows 10000 --instances 1 --backend sqlite

Each run has a fresh database: ROWS tickets, each with a client's mail (and its Message-ID)
and an agent's reply. The daemons (``threadline run``, the daemon as operators run it) start
with an empty outbox; then one transaction queues a reply row per ticket, and the clock runs
from its commit until every row is ``sent`` (on SQLite, which has no wake-up between
processes, the daemon finds the rows at its next outbox sweep, set to every second). Each
mail is composed as in production: read the ticket, thread to the client's mail, sign the
reply address. The sink (aiosmtpd, its own process) counts the mails it accepted, so a row
sent twice would show.

The PostgreSQL server is started from the machine's binaries as the test suite does, or taken
from ``THREADLINE_TEST_PG_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, insert, select, text

from bench.core import fresh_url
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


class Counting:
    """The sink's handler: accepts every mail and counts it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 2.0.0 accepted"


def sink(port: int) -> None:
    """Serves until SIGTERM, then prints how many mails it accepted."""
    handler = Counting()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="sink"), "127.0.0.1", port)
    )
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    print(handler.count, flush=True)


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


def one_run(url: str, rows: int, instances: int, directory: Path) -> dict[str, object]:
    fill(url, rows)
    port = free_port()
    sink_process = subprocess.Popen(
        [sys.executable, "-m", "bench.dispatch", "--sink", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink_process.stdout is not None
    sink_process.stdout.readline()
    env = {
        "THREADLINE_SMARTHOST__PORT": str(port),
        "THREADLINE_LOGGING__LEVEL": "warning",
        "THREADLINE_DISPATCH__SWEEP_INTERVAL": "1",
    }
    daemons = []
    try:
        for n in range(instances):
            http_port = free_port()
            config = write_config(directory / f"daemon-{n}.toml", url, http_port)
            daemons.append(DaemonProcess(config, http_port, directory, env))
        for daemon in daemons:
            daemon.wait_until_serving()
        started = queue_replies(url, rows)
        drained = wait_until_sent(url, rows)
        rss = [round(peak_rss_mb(daemon.process.pid)) for daemon in daemons]
    finally:
        for daemon in daemons:
            daemon.stop(timeout=30)
        sink_process.send_signal(signal.SIGTERM)
        accepted = int(sink_process.communicate(timeout=30)[0].split()[-1])
    seconds = drained - started
    return {
        "instances": instances,
        "rows": rows,
        "seconds": round(seconds, 2),
        "emails_per_s": round(rows / seconds),
        "peak_rss_mb": rss,
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
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return
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
                print(json.dumps(one_run(url, args.rows, instances, Path(directory))), flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
