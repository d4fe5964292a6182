"""Benchmark of the Slack webhook: acknowledgement latency of ``POST /slack/events``.

Signed message events arrive at a fixed rate; the daemon's answers are timed beside a floor's,
on SQLite and on PostgreSQL, and every event must be stored exactly once.

    .venv/bin/python -m bench.webhooks                      # 1,000 requests/s for 30 s, both
    .venv/bin/python -m bench.webhooks --database sqlite --only floor --rate 200 --seconds 3

For each database two servers take the same load, each in a process of its own on a fresh
database: the FLOOR, a bare aiohttp handler (this module with ``--serve-floor``) that checks
Slack's v0 signature and commits one row per request into a table of its own, with the
daemon's engine settings (``make_engine``) and, as the daemon, from a worker thread; and the
DAEMON, ``threadline run`` with ``[slack]`` enabled, whose Web API calls go to a stand-in here
that answers ``ok``. The difference between the two is what the daemon adds per request.

The load is open-loop, in this process: request i leaves at start + i / rate whatever the
answers before it, over one aiohttp session of at most 100 connections. Latency is from each
request's scheduled time to its answer, so a server that stalls is charged for the queue behind
it (no coordinated omission); it covers every request, a timed-out one counting its 10 s. Bodies
and signatures are made before the clock starts (the timestamp is the run's start, inside
Slack's 5-minute window). One request in 100 is a retry (``X-Slack-Retry-Num: 1``) of an event
sent a second earlier: it must be answered 200 and not stored again. The generator's own lateness
(launch after the scheduled time) and CPU share are printed, to show it was not the bottleneck.

Checks: every event is stored exactly once (the floor's rows; the daemon's ``inbound_items`` of
channel ``slack``, keyed by event id). For the daemon, after the load the benchmark waits (at
most 5 minutes) until no item is ``pending`` and counts the ``slack`` messages, one per event;
the time that took is the drain. A failed check is printed and the benchmark exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    create_engine,
    func,
    select,
)

from bench.core import fresh_url
from tests.support.daemon import DaemonProcess, free_port, write_config
from tests.support.postgres import PostgresServer, external_postgres, start_postgres
from tests.support.processes import terminate
from threadline.core.db import DIALECT_INSERTS, make_engine
from threadline.core.dedup import dedup_key
from threadline.core.migrate import upgrade
from threadline.core.models import InboundItem, Message

HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 (a throwaway, both ends are here)
SIGNATURE_WINDOW_S = 300
CHANNEL = "C0SUPPORT"
TEAM = "T0DESK"
USERS = 50
"""Distinct senders: few enough that the daemon's clients are found again, not made anew."""
RETRY_EVERY = 100
RETRY_LAG_S = 1.0
RETRY_HEADERS = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
CONNECTIONS = 100
REQUEST_TIMEOUT_S = 10.0
LEAD_S = 0.1
"""The first request leaves this long after the clock starts, so it is not late already."""
MAX_SECONDS = 240
"""Signatures are made before the run with its start as timestamp: they must still be inside
Slack's 5-minute window when the last request leaves."""
MAX_REQUESTS = 250_000
START_TIMEOUT_S = 15.0
DRAIN_TIMEOUT_S = 300.0
POLL_S = 0.1
ROOT = Path(__file__).resolve().parents[1]

FLOOR_EVENTS = Table(
    "bench_floor_events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("event_id", String(255), nullable=False, unique=True),
    Column("raw", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class Planned:
    body: bytes
    headers: dict[str, str]
    retry: bool


@dataclass(frozen=True)
class Plan:
    requests: list[Planned]
    event_ids: list[str]


@dataclass(frozen=True)
class Load:
    latencies: list[float]
    """Seconds from each request's scheduled time to its answer, sorted."""
    outcomes: Counter[str]
    """Status code, ``timeout`` or the client error's name, per request."""
    retries: int
    retries_ok: int
    sent_s: float
    """From the first scheduled time to the last request's launch: the run's length if the
    generator kept up."""
    answered_s: float
    late_p99_s: float
    late_max_s: float
    cpu_share: float
    """This process's CPU time over the run's wall time (1.0 is a whole core); in the daemon's
    run it includes the Web API stand-in's."""

    @property
    def non_200(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != "200")


@dataclass
class Outcome:
    load: Load
    stored: int
    pending_after_load: int | None = None
    drain_s: float | None = None
    messages: int | None = None
    slack_calls: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def event_id(n: int) -> str:
    return f"EvBENCH{n:07d}"


def envelope(n: int, timestamp: str) -> dict[str, Any]:
    """A channel message as the Events API delivers it; ``ts`` is unique per event."""
    user = f"U0CLIENT{n % USERS:02d}"
    return {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": event_id(n),
        "event_time": int(timestamp),
        "event": {
            "type": "message",
            "channel": CHANNEL,
            "channel_type": "channel",
            "user": user,
            "team": TEAM,
            "text": f"Hello, my order {n} has not arrived yet. Could you have a look?",
            "ts": f"{timestamp}.{n:06d}",
        },
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
    }


def make_plan(rate: float, seconds: float) -> Plan:
    """Every request body and header, signed, before the clock starts; a retry resends the
    event first sent ``RETRY_LAG_S`` earlier, byte for byte, as Slack does."""
    timestamp = str(int(time.time()))
    verifier = SignatureVerifier(SIGNING_SECRET)
    lag = max(1, round(rate * RETRY_LAG_S))
    originals: list[Planned] = []
    requests: list[Planned] = []
    for index in range(round(rate * seconds)):
        if index % RETRY_EVERY == RETRY_EVERY - 1 and len(originals) >= lag:
            first = originals[-lag]
            requests.append(Planned(first.body, {**first.headers, **RETRY_HEADERS}, retry=True))
            continue
        body = json.dumps(envelope(len(originals), timestamp), separators=(",", ":"))
        signature = verifier.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        originals.append(Planned(body.encode(), headers, retry=False))
        requests.append(originals[-1])
    return Plan(requests, [event_id(n) for n in range(len(originals))])


async def drive(port: int, plan: Plan, rate: float) -> Load:
    """Open loop: each request is launched at its time, answered or not the ones before it."""
    url = f"http://{HOST}:{port}/slack/events"
    loop = asyncio.get_running_loop()
    count = len(plan.requests)
    latencies = [0.0] * count
    lateness = [0.0] * count
    outcomes = ["unfinished"] * count
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(index: int, scheduled: float) -> None:
            lateness[index] = loop.time() - scheduled
            request = plan.requests[index]
            try:
                async with session.post(url, data=request.body, headers=request.headers) as answer:
                    await answer.read()
                    outcomes[index] = str(answer.status)
            except TimeoutError:
                outcomes[index] = "timeout"
            except aiohttp.ClientError as error:
                outcomes[index] = type(error).__name__
            latencies[index] = loop.time() - scheduled

        # The generator's own collector pauses would count as the daemon's latency.
        gc.collect()
        gc.disable()
        cpu = time.process_time()
        start = loop.time() + LEAD_S
        running: set[asyncio.Task[None]] = set()
        for index in range(count):
            scheduled = start + index / rate
            if (delay := scheduled - loop.time()) > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send(index, scheduled))
            running.add(task)
            task.add_done_callback(running.discard)
        sent_s = loop.time() - start
        if running:
            # Bounded by the per-request timeout already; this only guards against a hang.
            await asyncio.wait(set(running), timeout=REQUEST_TIMEOUT_S + 5)
        answered_s = loop.time() - start
        leftover = set(running)
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        wall = loop.time() - start + LEAD_S
        cpu_share = (time.process_time() - cpu) / wall
        gc.enable()
    for index, outcome in enumerate(outcomes):
        if outcome == "unfinished":
            latencies[index] = answered_s - index / rate
    late = sorted(lateness)
    retried = [i for i, request in enumerate(plan.requests) if request.retry]
    return Load(
        latencies=sorted(latencies),
        outcomes=Counter(outcomes),
        retries=len(retried),
        retries_ok=sum(outcomes[i] == "200" for i in retried),
        sent_s=sent_s,
        answered_s=answered_s,
        late_p99_s=percentile(late, 0.99),
        late_max_s=late[-1],
        cpu_share=cpu_share,
    )


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: a latency some request actually had."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# The floor ----------------------------------------------------------------------------------


def signed(secret: bytes, headers: Mapping[str, str], raw: bytes) -> bool:
    """Slack's v0 scheme: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, within five
    minutes, compared in constant time."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_S:
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    expected = b"v0=" + digest.hexdigest().encode()
    return hmac.compare_digest(expected, headers.get("X-Slack-Signature", "").encode())


def serve_floor(url: str, port: int) -> None:
    """The least a webhook must do before its 200: check the signature, read the event id and
    commit the event, once (a retry finds its row and is answered all the same)."""
    engine = make_engine(url)
    FLOOR_EVENTS.metadata.create_all(engine)
    insert = DIALECT_INSERTS[engine.dialect.name](FLOOR_EVENTS).on_conflict_do_nothing(
        index_elements=["event_id"]
    )
    secret = SIGNING_SECRET.encode()

    def store(event: str, raw: bytes) -> None:
        with engine.begin() as connection:
            connection.execute(insert, {"event_id": event, "raw": raw})

    async def events(request: web.Request) -> web.Response:
        raw = await request.read()
        if not signed(secret, request.headers, raw):
            return web.Response(status=401)
        try:
            event = json.loads(raw)["event_id"]
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        await asyncio.to_thread(store, event, raw)
        return web.Response()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


async def floor_run(url: str, directory: Path, rate: float, seconds: float) -> Outcome:
    port = free_port()
    with (directory / "floor.out").open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.webhooks", "--serve-floor", url, "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await until_ready(port, lambda: server.poll() is None, directory / "floor.out")
        plan = make_plan(rate, seconds)
        load = await drive(port, plan, rate)
    finally:
        await asyncio.to_thread(terminate, server, 5)
    engine = reader(url)
    try:
        keys = await asyncio.to_thread(read_keys, engine, select(FLOOR_EVENTS.c.event_id))
    finally:
        engine.dispose()
    outcome = Outcome(load, len(keys))
    check_common(outcome, plan.event_ids, keys)
    return outcome


async def until_ready(port: int, alive: Callable[[], bool], log: Path) -> None:
    """Until the server's /healthz answers 200 (it does once it listens)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if not alive():
                raise SystemExit(f"server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                async with session.get(f"http://{HOST}:{port}/healthz") as answer:
                    if answer.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise SystemExit(f"server not ready after {START_TIMEOUT_S} s")


# The daemon ---------------------------------------------------------------------------------


def slack_answer(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What the Web API would say, as little as slack_sdk and the daemon read."""
    if method == "auth.test":
        return {
            "ok": True,
            "url": "https://desk.slack.com/",
            "team": "Desk",
            "user": "threadline",
            "team_id": TEAM,
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
            "is_enterprise_install": False,
        }
    if method == "users.info":
        user = str(params.get("user", "U0"))
        name = f"Client {user[-2:]}"
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": TEAM,
                "name": user.lower(),
                "real_name": name,
                "deleted": False,
                "is_bot": False,
                "profile": {
                    "real_name": name,
                    "display_name": name,
                    "email": f"{user.lower()}@clients.example",
                },
            },
        }
    if method == "chat.postMessage":
        return {
            "ok": True,
            "channel": params.get("channel", CHANNEL),
            "ts": f"{time.time():.6f}",
            "message": {"type": "message", "text": params.get("text", ""), "user": "U0BOT"},
        }
    return {"ok": True}


async def start_slack_api(port: int, calls: Counter[str]) -> web.AppRunner:
    """A stand-in for slack.com/api in this process: answers every method ``ok`` and counts
    the calls, so the daemon never waits on the network and its calls show in the figures."""

    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        calls[method] += 1
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        return web.json_response(slack_answer(method, params))

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner


def daemon_config(path: Path, url: str, port: int, slack_port: int) -> Path:
    write_config(path, url, port, level="warning")
    with path.open("a", encoding="utf-8") as config:
        config.write(
            "\n[slack]\nenabled = true\n"
            f'signing_secret = "{SIGNING_SECRET}"\n'
            'bot_token = "xoxb-bench"\n'
            f'api_base_url = "http://{HOST}:{slack_port}/api/"\n'
            f'support_channels = ["{CHANNEL}"]\n'
        )
    return path


def stop_daemon(daemon: DaemonProcess) -> None:
    try:
        daemon.stop()
    except subprocess.TimeoutExpired:
        pass
    finally:
        daemon.kill()


async def daemon_run(url: str, directory: Path, rate: float, seconds: float) -> Outcome:
    await asyncio.to_thread(migrate, url)
    calls: Counter[str] = Counter()
    slack_port, port = free_port(), free_port()
    slack_api = await start_slack_api(slack_port, calls)
    config = daemon_config(directory / f"daemon-{port}.toml", url, port, slack_port)
    daemon = DaemonProcess(config, port, directory)
    engine = reader(url)
    try:
        try:
            # In a thread: the daemon may call the Web API stand-in on this loop as it starts.
            await asyncio.to_thread(daemon.wait_until_serving)
        except pytest.fail.Exception as failed:
            raise SystemExit(str(failed)) from None
        plan = make_plan(rate, seconds)
        load = await drive(port, plan, rate)
        loaded = time.monotonic()
        keys = await asyncio.to_thread(
            read_keys, engine, select(InboundItem.dedup_key).where(InboundItem.channel == "slack")
        )
        outcome = Outcome(load, len(keys), slack_calls=calls)
        check_common(outcome, [dedup_key(event) for event in plan.event_ids], keys)
        await drain(engine, outcome, len(plan.event_ids), loaded)
        if daemon.process.poll() is not None:
            outcome.problems.append(f"daemon exited with {daemon.process.returncode}")
    finally:
        await asyncio.to_thread(stop_daemon, daemon)
        await slack_api.cleanup()
        engine.dispose()
    if outcome.problems:
        outcome.problems.append(
            f"daemon output, its end:\n{daemon.stdout[-1500:]}{daemon.stderr[-1500:]}"
        )
    return outcome


def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


async def drain(engine: Engine, outcome: Outcome, events: int, loaded: float) -> None:
    """Until no ``slack`` item is pending (bounded), timed from the end of the load
    (``loaded``); then one message per event."""
    while True:
        statuses = await asyncio.to_thread(slack_statuses, engine)
        pending = statuses.get("pending", 0)
        if outcome.pending_after_load is None:
            outcome.pending_after_load = pending
        if not pending:
            outcome.drain_s = time.monotonic() - loaded
            break
        if time.monotonic() - loaded > DRAIN_TIMEOUT_S:
            outcome.problems.append(f"{pending} items still pending after {DRAIN_TIMEOUT_S} s")
            break
        await asyncio.sleep(POLL_S)
    if set(statuses) - {"pending", "done"}:
        outcome.problems.append(f"item statuses: {dict(statuses)}")
    outcome.messages = await asyncio.to_thread(slack_messages, engine)
    if outcome.messages != events:
        outcome.problems.append(f"{outcome.messages} slack messages for {events} events")


# Checks -------------------------------------------------------------------------------------


def reader(url: str) -> Engine:
    """A plain engine for the checks: ``make_engine`` begins every SQLite transaction
    IMMEDIATE, which would take the write lock from the server being measured."""
    return create_engine(url, pool_size=1)


def read_keys(engine: Engine, query: Select[tuple[str]]) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(query))


def slack_statuses(engine: Engine) -> dict[str, int]:
    query = (
        select(InboundItem.status, func.count())
        .where(InboundItem.channel == "slack")
        .group_by(InboundItem.status)
    )
    with engine.connect() as connection:
        return dict(connection.execute(query).all())


def slack_messages(engine: Engine) -> int:
    query = select(func.count()).select_from(Message).where(Message.channel == "slack")
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def check_common(outcome: Outcome, expected: list[str], keys: list[str]) -> None:
    """Every event stored, none twice, nothing else; every retry answered 200."""
    missing = set(expected) - set(keys)
    if missing or len(keys) != len(expected):
        outcome.problems.append(
            f"{len(keys)} rows for {len(expected)} events, {len(missing)} missing "
            f"(e.g. {sorted(missing)[:3]})"
        )
    load = outcome.load
    if load.retries_ok != load.retries:
        outcome.problems.append(f"{load.retries - load.retries_ok} retries not answered 200")


# Report -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def rows(outcome: Outcome) -> dict[str, str]:
    load = outcome.load
    others = ", ".join(f"{k}: {n}" for k, n in sorted(load.outcomes.items()) if k != "200")
    events = len(load.latencies) - load.retries
    return {
        "requests (of them retries)": f"{len(load.latencies)} ({load.retries})",
        "sent over / answered by s": f"{load.sent_s:.2f} / {load.answered_s:.2f}",
        "generator late p99 / max ms": f"{ms(load.late_p99_s)} / {ms(load.late_max_s)}",
        "generator CPU": f"{load.cpu_share:.0%}",
        "ack p50 ms": ms(percentile(load.latencies, 0.50)),
        "ack p90 ms": ms(percentile(load.latencies, 0.90)),
        "ack p99 ms": ms(percentile(load.latencies, 0.99)),
        "ack max ms": ms(load.latencies[-1]),
        "non-200": f"{load.non_200}" + (f" ({others})" if others else ""),
        "retries answered 200": f"{load.retries_ok}/{load.retries}",
        "events stored": f"{outcome.stored}/{events}",
        "pending after load": opt(outcome.pending_after_load),
        "drain s": "-" if outcome.drain_s is None else f"{outcome.drain_s:.1f}",
        "slack messages": opt(outcome.messages),
        "Web API calls": ", ".join(f"{k} {n}" for k, n in sorted(outcome.slack_calls.items()))
        or "-",
        "checks": "FAILED" if outcome.problems else "ok",
    }


def opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def report(database: str, outcomes: dict[str, Outcome]) -> None:
    """The sides in columns, so each figure of the daemon stands beside the floor's."""
    tables = {side: rows(outcome) for side, outcome in outcomes.items()}
    labels = next(iter(tables.values())).keys()
    width = max(16, *(len(v) for table in tables.values() for v in table.values()))
    print()
    print(database.ljust(30) + "".join(side.rjust(width + 2) for side in tables))
    for label in labels:
        print(
            f"  {label:<28}" + "".join(table[label].rjust(width + 2) for table in tables.values())
        )
    for side, outcome in outcomes.items():
        for problem in outcome.problems:
            print(f"  {side}: {problem}")
    sys.stdout.flush()


SIDES: dict[str, Callable[[str, Path, float, float], Awaitable[Outcome]]] = {
    "floor": floor_run,
    "daemon": daemon_run,
}


async def bench(
    args: argparse.Namespace, databases: list[str], server: PostgresServer | None, directory: Path
) -> bool:
    """Every side on every database, each on a database of its own; True if all checks held."""
    sides = list(SIDES) if args.only == "both" else [args.only]
    held = True
    for database in databases:
        outcomes = {}
        for run, side in enumerate(sides):
            url = await asyncio.to_thread(fresh_url, database, directory, server, run)
            print(f"{database} {side}: {args.rate:g} requests/s for {args.seconds:g} s", flush=True)
            outcomes[side] = await SIDES[side](url, directory, args.rate, args.seconds)
            held = held and not outcomes[side].problems
        report(database, outcomes)
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", choices=["floor", "daemon", "both"], default="both")
    parser.add_argument("--serve-floor", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor, args.port)
        return
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]: signatures expire after 5 min")
    if args.rate <= 0 or not 1 <= round(args.rate * args.seconds) <= MAX_REQUESTS:
        parser.error(f"--rate x --seconds must make 1 to {MAX_REQUESTS} requests")
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    server = None
    if "postgresql" in databases:
        url = os.environ.get("THREADLINE_TEST_PG_URL")
        server = external_postgres(url) if url else start_postgres()
    try:
        with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
            held = asyncio.run(bench(args, databases, server, Path(directory)))
    finally:
        if server is not None:
            server.stop()
    if not held:
        raise SystemExit("a check failed: the figures above are not valid")


if __name__ == "__main__":
    main()
