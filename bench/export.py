"""Benchmark of ``tickets export``: tickets/s and peak RSS at growing sizes, to show that memory
stays flat however many tickets there are (it streams in chunks).

    .venv/bin/python -m bench.export --tickets 10000 100000

Each size runs in a fresh process on a fresh SQLite database filled with bulk inserts (one
client, two messages and one message ref per ticket); the export writes to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from threadline.core.db import make_engine, session_factory
from threadline.core.export import export_tickets
from threadline.core.migrate import upgrade
from threadline.core.models import Client, Message, MessageRef, Ticket
from threadline.core.models.base import now_utc
from threadline.daemon import channels

FILL_CHUNK = 5000


def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    now = now_utc()
    with engine.begin() as connection:
        connection.execute(insert(Client), [{"id": 1, "name": "Ada"}])
        for start in range(1, count + 1, FILL_CHUNK):
            ids = range(start, min(start + FILL_CHUNK, count + 1))
            connection.execute(
                insert(Ticket),
                [{"id": i, "title": f"Ticket {i}", "client_id": 1, "status": "open"} for i in ids],
            )
            connection.execute(
                insert(Message),
                [
                    {"ticket_id": i, "client_id": 1, "body": "Hello " * 40, "created_at": now}
                    for i in ids
                    for _ in range(2)
                ],
            )
            connection.execute(
                insert(MessageRef),
                [{"channel": "email", "external_id": f"{i}@bench", "ticket_id": i} for i in ids],
            )
    engine.dispose()


def one_run(url: str) -> dict[str, float]:
    engine = make_engine(url)
    started = time.perf_counter()
    exported = 0
    with session_factory(engine)() as session, open(os.devnull, "w") as sink:
        for document in export_tickets(session, channels.traits()):
            sink.write(json.dumps(document) + "\n")
            exported += 1
    elapsed = time.perf_counter() - started
    return {
        "tickets": exported,
        "tickets_per_s": exported / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--one", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one)))
        return
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
        for count in args.tickets:
            url = f"sqlite:///{Path(directory) / f'export-{count}.db'}"
            fill(url, count)
            output = subprocess.run(
                [sys.executable, "-m", "bench.export", "--one", url],
                check=True,
                capture_output=True,
                text=True,
                timeout=1800,
            ).stdout
            result = json.loads(output.splitlines()[-1])
            print(
                f"{result['tickets']} tickets: {result['tickets_per_s']:.0f} tickets/s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
