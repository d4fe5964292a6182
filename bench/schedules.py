"""Benchmark of the scheduled jobs over a large desk: the SLA job (clocks and reminders) and
the retention job, one tick at a time, on PostgreSQL (or SQLite). Prints each tick's seconds
and the process's peak RSS.

    .venv/bin/python -m bench.schedules --tickets 100000

The desk is filled with bulk inserts: three agents, TICKETS tickets (a tenth closed long ago,
a fifth waiting for the client, the rest waiting for an agent), each with a client's message
and turn, and an agent's reply and turn on those that waited; an inbound item per ticket, a
third of them processed 40 days ago, and a read notification 100 days old per ticket. The
ticks timed:

- ``sla first``: the first tick over the whole desk, which computes 2,000 tickets' clocks and
  sends the reminders of up to 300 clocks that are due (the rest follow in later ticks, timed
  as ``sla backlog``, until nothing is left: most of the desk's tickets are overdue).
- ``sla idle``: a tick when nothing changed (finding that out is a scan of every ticket).
- ``sla busy``: a tick after 1,000 tickets changed and 300 clocks fell due: computing them
  again and sending the reminders.
- ``retention``: one tick of each category (bounded batches).

The PostgreSQL server is started from the machine's binaries as the test suite does, or taken
from ``THREADLINE_TEST_PG_URL``.
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
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from bench.core import fresh_url
from tests.support.postgres import external_postgres, start_postgres
from threadline.core.db import make_engine, session_factory
from threadline.core.migrate import upgrade
from threadline.core.models import (
    Client,
    InboundItem,
    Message,
    Notification,
    SlaClock,
    Ticket,
    TicketTurn,
    User,
    ticket_assignments,
)
from threadline.core.retention import purge
from threadline.core.schedule_settings import (
    CalendarSettings,
    RetentionSettings,
    SlaSettings,
    SlaTarget,
)
from threadline.core.schedule_settings import calendars as by_name
from threadline.core.sla import SlaDesk, run_sla
from threadline.daemon import channels
from threadline.daemon.settings import default_settings

CHUNK = 5000
NOW = datetime(2026, 12, 7, 10, 0)
OFFICE = CalendarSettings(
    name="office",
    time_zone="Europe/Berlin",
    hours={day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    holidays=[date(2026, 12, 24), date(2026, 12, 25)],
)


def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(User),
            [{"id": n, "name": f"Agent {n}", "email": f"agent{n}@desk.example"} for n in (1, 2, 3)],
        )
        connection.execute(insert(Client), [{"id": 1, "name": "Ada"}])
        for start in range(1, count + 1, CHUNK):
            ids = range(start, min(start + CHUNK, count + 1))
            opened = {i: NOW - timedelta(minutes=i % 5000) for i in ids}
            status = {i: _status(i) for i in ids}
            connection.execute(
                insert(Ticket),
                [
                    {
                        "id": i,
                        "title": f"Ticket {i}",
                        "client_id": 1,
                        "status": status[i],
                        "created_at": opened[i],
                        "updated_at": opened[i] + timedelta(minutes=1),
                        "closed_at": NOW - timedelta(days=800) if status[i] == "closed" else None,
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(ticket_assignments), [{"ticket_id": i, "user_id": 1 + i % 3} for i in ids]
            )
            answered = [i for i in ids if status[i] != "waiting_for_agent"]
            connection.execute(
                insert(Message),
                [
                    {"ticket_id": i, "client_id": 1, "body": "Help " * 40, "created_at": opened[i]}
                    for i in ids
                ],
            )
            connection.execute(
                insert(Message),
                [
                    {
                        "ticket_id": i,
                        "user_id": 1 + i % 3,
                        "body": "Done " * 20,
                        "created_at": opened[i] + timedelta(minutes=1),
                    }
                    for i in answered
                ],
            )
            connection.execute(
                insert(TicketTurn),
                [{"ticket_id": i, "at": opened[i], "side": "client"} for i in ids]
                + [
                    {"ticket_id": i, "at": opened[i] + timedelta(minutes=1), "side": "agent"}
                    for i in answered
                ],
            )
            connection.execute(
                insert(InboundItem),
                [
                    {
                        "channel": "normalized",
                        "dedup_key": f"bench-{i}",
                        "raw": b"x" * 2000,
                        "status": "done" if i % 3 == 0 else "pending",
                        "created_at": NOW - timedelta(days=40),
                        "updated_at": NOW - timedelta(days=40),
                    }
                    for i in ids
                ],
            )
            connection.execute(
                insert(Notification),
                [
                    {
                        "user_id": 1 + i % 3,
                        "ticket_id": i,
                        "type": "client_replied",
                        "content": "x",
                        "is_read": True,
                        "created_at": NOW - timedelta(days=100),
                    }
                    for i in ids
                ],
            )
    engine.dispose()


def _status(i: int) -> str:
    if i % 10 == 0:
        return "closed"
    return "waiting_for_user" if i % 5 == 1 else "waiting_for_agent"


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def one_run(url: str) -> dict[str, object]:
    engine = make_engine(url)
    sessions = session_factory(engine)
    settings = default_settings()
    desk = SlaDesk(
        sla=SlaSettings(targets=[SlaTarget(calendar="office", first_response=60, resolution=480)]),
        calendars=by_name([OFFICE]),
        notifications=settings.notifications,
        traits=channels.traits(),
        routing=settings.routing,
        assignment=settings.assignment,
    )
    figures: dict[str, object] = {}
    figures["sla first"], _ = timed(lambda: run_sla(sessions, desk, NOW))
    backlog = []
    while True:
        took, tick = timed(lambda: run_sla(sessions, desk, NOW))
        if not tick.computed and not tick.reminded:  # type: ignore[attr-defined]
            break
        backlog.append(took)
    figures["sla backlog"] = {"ticks": len(backlog), "max": max(backlog, default=0.0)}
    figures["sla idle"], _ = timed(lambda: run_sla(sessions, desk, NOW))

    # 1,000 tickets change (a client writes again), and 300 clocks fall due now.
    with sessions.begin() as session:
        changed = list(range(2, 2002, 2))
        session.execute(
            update(Ticket)
            .where(Ticket.id.in_(changed))
            .values(updated_at=NOW, status="waiting_for_agent")
        )
        session.execute(
            insert(TicketTurn), [{"ticket_id": i, "at": NOW, "side": "client"} for i in changed]
        )
        due = session.execute(
            SlaClock.__table__.select().where(SlaClock.ticket_id > 3000).limit(300)
        ).all()
        for row in due:
            session.execute(
                update(SlaClock)
                .where(SlaClock.ticket_id == row.ticket_id, SlaClock.target == row.target)
                .values(due_at=NOW - timedelta(minutes=1))
            )
    took, busy = timed(lambda: run_sla(sessions, desk, NOW))
    figures["sla busy"] = {
        "seconds": took,
        "computed": busy.computed,  # type: ignore[attr-defined]
        "reminded": busy.reminded,  # type: ignore[attr-defined]
    }
    for name, retention in (
        ("retention", RetentionSettings()),
        ("retention with closed tickets", RetentionSettings(closed_tickets_years=1)),
    ):
        took, report = timed(lambda retention=retention: purge(sessions, retention, NOW))
        figures[name] = {"seconds": took, "report": str(report)}
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--one", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one), default=str))
        return
    server = None
    if args.backend == "postgresql":
        url = os.environ.get("THREADLINE_TEST_PG_URL")
        server = external_postgres(url) if url else start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
            url = fresh_url(args.backend, Path(directory), server, 0)
            started = time.perf_counter()
            fill(url, args.tickets)
            print(f"filled {args.tickets:,} tickets in {time.perf_counter() - started:.1f} s")
            output = subprocess.run(
                [sys.executable, "-m", "bench.schedules", "--one", url],
                check=True,
                capture_output=True,
                text=True,
                timeout=3600,
            ).stdout
            for name, value in json.loads(output.splitlines()[-1]).items():
                print(f"{name}: {value}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
