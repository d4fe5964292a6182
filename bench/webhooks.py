"""Benchmark of the chat webhooks: acknowledgement latency of Slack's or of Twilio's requests.

Signed requests to Slack's ``POST /slack/events``, or to Twilio's ``POST /twilio/whatsapp`` and
``POST /twilio/status``, arrive at a fixed rate; the daemon's answers are timed beside a floor's,
on SQLite and on PostgreSQL, and every event must be stored exactly once.

    .venv/bin/python -m bench.webhooks                      # 1,000 requests/s for 30 s, both
    .venv/bin/python -m bench.webhooks --database sqlite --only floor --rate 200 --seconds 3
    .venv/bin/python -m bench.webhooks --webhook whatsapp   # Twilio's webhooks instead of Slack's

The two webhooks (``--webhook``, Slack's by default):

- ``slack``: channel message events, JSON, with Slack's v0 signature; the daemon runs with
  ``[slack]`` enabled, its Web API calls going to a stand-in here that answers ``ok``.
- ``whatsapp``: Twilio's form-encoded webhooks with their ``X-Twilio-Signature``, made for the
  configured ``public_url`` (``https://desk.example.com``), not for the address they are sent
  to, as behind a reverse proxy. Four requests in five are client messages to
  ``/twilio/whatsapp``, from 50 numbers; the fifth is a status callback to ``/twilio/status``
  (sent, delivered, read in turn) about an earlier client message, which is no message of ours:
  stored, then ignored. The daemon runs with ``[whatsapp]`` enabled, its REST API calls going to
  a stand-in here that queues every message (it has none to send: there are no agents).

For each database two servers take the same load, each in a process of its own on a fresh
database: the FLOOR, a bare aiohttp handler (this module with ``--serve-floor``) that checks the
signature and commits one row per request, under the key the daemon stores it by, into a table
of its own, with the daemon's engine settings (``make_engine``) and, as the daemon, from a
worker thread; and the DAEMON, ``threadline run`` with the channel enabled. The difference
between the two is what the daemon adds per request.

The load is open-loop, in this process: request i leaves at start + i / rate whatever the
answers before it, over one aiohttp session of at most 100 connections. Latency is from each
request's scheduled time to its answer, so a server that stalls is charged for the queue behind
it (no coordinated omission); it covers every request, a timed-out one counting its 10 s. Bodies
and signatures are made before the clock starts (Slack's timestamp is the run's start, inside
Slack's 5-minute window). One request in 100 is a retry of one sent a second earlier, its body
and signature byte for byte (Slack's with ``X-Slack-Retry-Num: 1`` added, Twilio's with nothing
added): it must be answered 200 and not stored again. The generator's own lateness (launch
after the scheduled time) and CPU share are printed, to show it was not the bottleneck.

Checks: every event is stored exactly once (the floor's rows; the daemon's ``inbound_items`` of
the channel, keyed by Slack's event id, by Twilio's ``MessageSid``, a status callback's with its
status). For the daemon, after the load the benchmark waits (at most 5 minutes) until no item
is ``pending``, the time that took being the drain; then every item must have ended ``done``, a
status callback ``ignored`` (it moves no message of ours), and there must be one message of the
channel per Slack event or WhatsApp client message. A failed check is printed, with the status
and last error of the items that ended otherwise; one of the daemon's makes the benchmark exit
1. The floor's are findings, not errors: a commit per request on PostgreSQL cannot keep up with
1,000 requests/s here, and its requests time out unstored.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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
from twilio.request_validator import RequestValidator

from bench.core import fresh_url
from tests.support.daemon import DaemonProcess, free_port, write_config
from tests.support.postgres import PostgresServer, external_postgres, start_postgres
from tests.support.processes import terminate
from threadline.core.db import DIALECT_INSERTS, make_engine
from threadline.core.dedup import dedup_key
from threadline.core.migrate import upgrade
from threadline.core.models import InboundItem, Message

HOST = "127.0.0.1"
DEFAULT_WEBHOOK = "slack"
USERS = 50
"""Distinct senders: few enough that the daemon's clients are found again, not made anew."""
RETRY_EVERY = 100
RETRY_LAG_S = 1.0
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

SIGNING_SECRET = "bench-signing-secret"  # noqa: S105 (a throwaway, both ends are here)
SIGNATURE_WINDOW_S = 300
CHANNEL = "C0SUPPORT"
TEAM = "T0DESK"
SLACK_RETRY_HEADERS = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}

ACCOUNT_SID = "AC0000000000000000000000000be7c4"
AUTH_TOKEN = "bench-auth-token"  # noqa: S105 (a throwaway, both ends are here)
DESK_NUMBER = "+14155238886"
PUBLIC_URL = "https://desk.example.com"
"""What Twilio signs for, not where the requests go: the daemon checks against its setting."""
MESSAGE_PATH = "/twilio/whatsapp"
STATUS_PATH = "/twilio/status"
STATUS_EVERY = 5
"""One request in five is a status callback, the others client messages."""
REPORTED = ("sent", "delivered", "read")
"""Each reported message gets a callback for each of these, so (sid, status) is never twice."""

FLOOR_EVENTS = Table(
    "bench_floor_events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(255), nullable=False, unique=True),
    Column("raw", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class Planned:
    path: str
    body: bytes
    headers: dict[str, str]
    retry: bool = False


@dataclass(frozen=True)
class Event:
    """A request as first sent, and what the daemon must make of it."""

    request: Planned
    key: str
    """What it is stored under (before ``dedup_key``): Slack's event id, Twilio's MessageSid,
    a status callback's followed by ``:`` and the status."""
    end: str
    """The status its item must end in: ``done``, or ``ignored`` for a delivery report that
    names no message of ours."""


@dataclass(frozen=True)
class Plan:
    requests: list[Planned]
    ends: dict[str, str]
    """Each event's key, and the status its item must end in."""

    @property
    def messages(self) -> int:
        """The messages the daemon must store: one per event whose item ends ``done``."""
        return sum(end == "done" for end in self.ends.values())


KeyOf = Callable[[web.Request, bytes], Awaitable[str]]
"""The floor's reading of a request and its body: the key it is stored under, once its
signature holds; else it raises the answer (an aiohttp ``HTTPException``)."""


@dataclass(frozen=True)
class Webhook:
    """What differs between the two webhooks; the load, the runs, the checks and the report
    are the same code."""

    channel: str
    events: Callable[[], Iterator[Event]]
    """Signed events, new ones for as long as they are asked for."""
    retry_headers: dict[str, str]
    """What a retry adds to the headers the request first had."""
    floor: dict[str, KeyOf]
    """The floor's routes: a path, and how a request to it is keyed."""
    api: Callable[[Counter[str]], web.Application]
    """The stand-in for the provider's API, counting the calls in the given counter."""
    section: Callable[[int], str]
    """The daemon's config section for the channel, given the stand-in's port."""
    api_calls: str
    """The report's label for the stand-in's calls."""
    messages_of: str
    """What the channel's messages are counted against, in a failed check."""


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
    run it includes the API stand-in's."""

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
    api_calls: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def make_plan(webhook: Webhook, rate: float, seconds: float) -> Plan:
    """Every request body and header, signed, before the clock starts; a retry resends the
    request first sent ``RETRY_LAG_S`` earlier, byte for byte, as Slack and Twilio do."""
    lag = max(1, round(rate * RETRY_LAG_S))
    events = webhook.events()
    originals: list[Planned] = []
    requests: list[Planned] = []
    ends: dict[str, str] = {}
    for index in range(round(rate * seconds)):
        if index % RETRY_EVERY == RETRY_EVERY - 1 and len(originals) >= lag:
            first = originals[-lag]
            headers = {**first.headers, **webhook.retry_headers}
            requests.append(replace(first, headers=headers, retry=True))
            continue
        event = next(events)
        originals.append(event.request)
        requests.append(event.request)
        ends[event.key] = event.end
    return Plan(requests, ends)


def order_text(n: int) -> str:
    return f"Hello, my order {n} has not arrived yet. Could you have a look?"


async def drive(port: int, plan: Plan, rate: float) -> Load:
    """Open loop: each request is launched at its time, answered or not the ones before it."""
    base = f"http://{HOST}:{port}"
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
                async with session.post(
                    base + request.path, data=request.body, headers=request.headers
                ) as answer:
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


# Slack --------------------------------------------------------------------------------------


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
            "text": order_text(n),
            "ts": f"{timestamp}.{n:06d}",
        },
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True}],
    }


def slack_events() -> Iterator[Event]:
    """Channel messages, each a message of the daemon's; all signed with the timestamp of the
    first."""
    timestamp = str(int(time.time()))
    verifier = SignatureVerifier(SIGNING_SECRET)
    for n in itertools.count():
        body = json.dumps(envelope(n, timestamp), separators=(",", ":"))
        signature = verifier.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        }
        yield Event(Planned("/slack/events", body.encode(), headers), event_id(n), "done")


def signed(secret: bytes, headers: Mapping[str, str], raw: bytes) -> bool:
    """Slack's v0 scheme: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, within five
    minutes, compared in constant time."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_S:
        return False
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    expected = b"v0=" + digest.hexdigest().encode()
    return hmac.compare_digest(expected, headers.get("X-Slack-Signature", "").encode())


async def slack_key(request: web.Request, raw: bytes) -> str:
    """The floor's: the event id of a signed event."""
    if not signed(SIGNING_SECRET.encode(), request.headers, raw):
        raise web.HTTPUnauthorized()
    try:
        return str(json.loads(raw)["event_id"])
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest() from None


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


def slack_api(calls: Counter[str]) -> web.Application:
    """A stand-in for slack.com/api: answers every method ``ok`` and counts the calls."""

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
    return app


def slack_section(api_port: int) -> str:
    return (
        "\n[slack]\nenabled = true\n"
        f'signing_secret = "{SIGNING_SECRET}"\n'
        'bot_token = "xoxb-bench"\n'
        f'api_base_url = "http://{HOST}:{api_port}/api/"\n'
        f'support_channels = ["{CHANNEL}"]\n'
    )


# WhatsApp -----------------------------------------------------------------------------------


def message_sid(n: int) -> str:
    return f"SM{n:032x}"


def client_number(n: int) -> str:
    return f"+1415555{n % USERS:04d}"


def message_form(n: int) -> dict[str, str]:
    """Client message ``n`` as Twilio posts it: text, no media."""
    sid, number = message_sid(n), client_number(n)
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": f"Client {n % USERS:02d}",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": number.removeprefix("+"),
        "SmsStatus": "received",
        "Body": order_text(n),
        "To": f"whatsapp:{DESK_NUMBER}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{number}",
        "ApiVersion": "2010-04-01",
    }


def status_form(n: int, status: str) -> dict[str, str]:
    """A status callback as if client message ``n`` were one of ours, sent to the client."""
    sid, number = message_sid(n), client_number(n)
    return {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "ChannelToAddress": number,
        "To": f"whatsapp:{number}",
        "From": f"whatsapp:{DESK_NUMBER}",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
    }


def twilio_request(validator: RequestValidator, path: str, form: dict[str, str]) -> Planned:
    """Signed for the public URL, as Twilio signs what it posts there."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, form),
    }
    return Planned(path, urlencode(form).encode(), headers)


def whatsapp_events() -> Iterator[Event]:
    """Client messages, and every ``STATUS_EVERY``-th request a status callback: three about
    client message 0 (one per ``REPORTED`` status), three about message 1, ..., each well
    after its message. No outbox row has a client message's sid, so each callback's item is
    ignored."""
    validator = RequestValidator(AUTH_TOKEN)
    for n in itertools.count():
        reports, place = divmod(n, STATUS_EVERY)
        if place < STATUS_EVERY - 1:
            message = n - reports
            request = twilio_request(validator, MESSAGE_PATH, message_form(message))
            yield Event(request, message_sid(message), "done")
        else:
            about, status = reports // len(REPORTED), REPORTED[reports % len(REPORTED)]
            request = twilio_request(validator, STATUS_PATH, status_form(about, status))
            yield Event(request, f"{message_sid(about)}:{status}", "ignored")


def twilio_key(*fields: str) -> KeyOf:
    """The floor's: the values of ``fields``, joined by ``:`` as the daemon keys them, of a
    signed request."""
    validator = RequestValidator(AUTH_TOKEN)

    async def key_of(request: web.Request, _raw: bytes) -> str:
        form = await request.post()
        # RequestValidator is Twilio's scheme itself: base64 HMAC-SHA1, keyed by the auth token,
        # of the URL followed by the sorted names and values, here compared in constant time.
        expected = validator.compute_signature(PUBLIC_URL + request.path, form).encode()
        given = request.headers.get("X-Twilio-Signature", "").encode()
        if not hmac.compare_digest(expected, given):
            raise web.HTTPForbidden()
        values = [value for name in fields if isinstance(value := form.get(name), str) and value]
        if len(values) != len(fields):
            raise web.HTTPBadRequest()
        return ":".join(values)

    return key_of


def twilio_api(calls: Counter[str]) -> web.Application:
    """A stand-in for api.twilio.com: queues whatever message it is asked to send, and counts
    them."""

    async def create(_request: web.Request) -> web.Response:
        calls["messages.create"] += 1
        return web.json_response({"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}, status=201)

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", create)
    return app


def whatsapp_section(api_port: int) -> str:
    return (
        "\n[whatsapp]\nenabled = true\n"
        f'account_sid = "{ACCOUNT_SID}"\n'
        f'auth_token = "{AUTH_TOKEN}"\n'
        f'from_number = "{DESK_NUMBER}"\n'
        f'public_url = "{PUBLIC_URL}"\n'
        f'api_base_url = "http://{HOST}:{api_port}"\n'
    )


WEBHOOKS = {
    "slack": Webhook(
        channel="slack",
        events=slack_events,
        retry_headers=SLACK_RETRY_HEADERS,
        floor={"/slack/events": slack_key},
        api=slack_api,
        section=slack_section,
        api_calls="Web API calls",
        messages_of="events",
    ),
    "whatsapp": Webhook(
        channel="whatsapp",
        events=whatsapp_events,
        retry_headers={},
        floor={
            MESSAGE_PATH: twilio_key("MessageSid"),
            STATUS_PATH: twilio_key("MessageSid", "MessageStatus"),
        },
        api=twilio_api,
        section=whatsapp_section,
        api_calls="Twilio API calls",
        messages_of="client messages",
    ),
}


# The floor ----------------------------------------------------------------------------------


def serve_floor(webhook: Webhook, url: str, port: int) -> None:
    """The least a webhook must do before its 200: check the signature, read the request's key
    and commit the request, once (a retry finds its row and is answered all the same)."""
    engine = make_engine(url)
    FLOOR_EVENTS.metadata.create_all(engine)
    insert = DIALECT_INSERTS[engine.dialect.name](FLOOR_EVENTS).on_conflict_do_nothing(
        index_elements=["dedup_key"]
    )

    def store(key: str, raw: bytes) -> None:
        with engine.begin() as connection:
            connection.execute(insert, {"dedup_key": key, "raw": raw})

    def receiver(key_of: KeyOf) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def receive(request: web.Request) -> web.Response:
            raw = await request.read()
            key = await key_of(request, raw)
            await asyncio.to_thread(store, key, raw)
            return web.Response()

        return receive

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    for path, key_of in webhook.floor.items():
        app.router.add_post(path, receiver(key_of))
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


async def floor_run(
    webhook: Webhook, url: str, directory: Path, rate: float, seconds: float
) -> Outcome:
    port = free_port()
    command = [sys.executable, "-m", "bench.webhooks", "--webhook", webhook.channel]
    with (directory / "floor.out").open("wb") as out:
        server = subprocess.Popen(
            [*command, "--serve-floor", url, "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await until_ready(port, lambda: server.poll() is None, directory / "floor.out")
        plan = make_plan(webhook, rate, seconds)
        load = await drive(port, plan, rate)
    finally:
        await asyncio.to_thread(terminate, server, 5)
    engine = reader(url)
    try:
        keys = await asyncio.to_thread(read_keys, engine, select(FLOOR_EVENTS.c.dedup_key))
    finally:
        engine.dispose()
    outcome = Outcome(load, len(keys))
    check_common(outcome, plan.ends, keys)
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


async def start_api(app: web.Application, port: int) -> web.AppRunner:
    """The provider's API stand-in, in this process, so the daemon never waits on the network
    and its calls show in the figures."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    return runner


def daemon_config(path: Path, url: str, port: int, section: str) -> Path:
    write_config(path, url, port, level="warning")
    with path.open("a", encoding="utf-8") as config:
        config.write(section)
    return path


def stop_daemon(daemon: DaemonProcess) -> None:
    try:
        daemon.stop()
    except subprocess.TimeoutExpired:
        pass
    finally:
        daemon.kill()


async def daemon_run(
    webhook: Webhook, url: str, directory: Path, rate: float, seconds: float
) -> Outcome:
    await asyncio.to_thread(migrate, url)
    calls: Counter[str] = Counter()
    api_port, port = free_port(), free_port()
    api = await start_api(webhook.api(calls), api_port)
    section = webhook.section(api_port)
    config = daemon_config(directory / f"daemon-{port}.toml", url, port, section)
    daemon = DaemonProcess(config, port, directory)
    engine = reader(url)
    try:
        try:
            # In a thread: the daemon may call the API stand-in on this loop as it starts.
            await asyncio.to_thread(daemon.wait_until_serving)
        except pytest.fail.Exception as failed:
            raise SystemExit(str(failed)) from None
        plan = make_plan(webhook, rate, seconds)
        load = await drive(port, plan, rate)
        loaded = time.monotonic()
        items = select(InboundItem.dedup_key).where(InboundItem.channel == webhook.channel)
        keys = await asyncio.to_thread(read_keys, engine, items)
        outcome = Outcome(load, len(keys), api_calls=calls)
        ends = {dedup_key(key): end for key, end in plan.ends.items()}
        check_common(outcome, ends, keys)
        await drain(engine, webhook, outcome, ends, plan.messages, loaded)
        if daemon.process.poll() is not None:
            outcome.problems.append(f"daemon exited with {daemon.process.returncode}")
    finally:
        await asyncio.to_thread(stop_daemon, daemon)
        await api.cleanup()
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


async def drain(
    engine: Engine,
    webhook: Webhook,
    outcome: Outcome,
    ends: Mapping[str, str],
    messages: int,
    loaded: float,
) -> None:
    """Until no item of the channel is pending (bounded), timed from the end of the load
    (``loaded``); then every item as ``ends`` says, and ``messages`` messages."""
    channel = webhook.channel
    while True:
        pending = await asyncio.to_thread(pending_items, engine, channel)
        if outcome.pending_after_load is None:
            outcome.pending_after_load = pending
        if not pending:
            outcome.drain_s = time.monotonic() - loaded
            break
        if time.monotonic() - loaded > DRAIN_TIMEOUT_S:
            outcome.problems.append(f"{pending} items still pending after {DRAIN_TIMEOUT_S} s")
            break
        await asyncio.sleep(POLL_S)
    items = await asyncio.to_thread(item_ends, engine, channel)
    astray: defaultdict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)
    for key, (status, error) in items.items():
        if key in ends and status not in ("pending", ends[key]):
            astray[ends[key], status].append((key, error))
    if astray:
        statuses = Counter(status for status, _error in items.values())
        outcome.problems.append(f"item statuses: {dict(statuses)}")
    for (end, status), found in sorted(astray.items()):
        key, error = found[0]
        outcome.problems.append(f"{len(found)} items {status}, not {end}: e.g. {key}, {error!r}")
    outcome.messages = await asyncio.to_thread(channel_messages, engine, channel)
    if outcome.messages != messages:
        outcome.problems.append(
            f"{outcome.messages} {channel} messages for {messages} {webhook.messages_of}"
        )


# Checks -------------------------------------------------------------------------------------


def reader(url: str) -> Engine:
    """A plain engine for the checks: ``make_engine`` begins every SQLite transaction
    IMMEDIATE, which would take the write lock from the server being measured."""
    return create_engine(url, pool_size=1)


def read_keys(engine: Engine, query: Select[tuple[str]]) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(query))


def pending_items(engine: Engine, channel: str) -> int:
    query = (
        select(func.count())
        .select_from(InboundItem)
        .where(InboundItem.channel == channel, InboundItem.status == "pending")
    )
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def item_ends(engine: Engine, channel: str) -> dict[str, tuple[str, str | None]]:
    """Each item's status and last error, by key."""
    query = select(InboundItem.dedup_key, InboundItem.status, InboundItem.last_error).where(
        InboundItem.channel == channel
    )
    with engine.connect() as connection:
        return {key: (status, error) for key, status, error in connection.execute(query)}


def channel_messages(engine: Engine, channel: str) -> int:
    query = select(func.count()).select_from(Message).where(Message.channel == channel)
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def check_common(outcome: Outcome, expected: Collection[str], keys: list[str]) -> None:
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


def rows(webhook: Webhook, outcome: Outcome) -> dict[str, str]:
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
        f"{webhook.channel} messages": opt(outcome.messages),
        webhook.api_calls: ", ".join(f"{k} {n}" for k, n in sorted(outcome.api_calls.items()))
        or "-",
        "checks": "FAILED" if outcome.problems else "ok",
    }


def opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def heading(webhook: Webhook, database: str) -> str:
    """The database, and the webhook unless it is the default: Slack's runs print as they did
    before there was a choice."""
    return database if webhook.channel == DEFAULT_WEBHOOK else f"{database} {webhook.channel}"


def report(webhook: Webhook, title: str, outcomes: dict[str, Outcome]) -> None:
    """The sides in columns, so each figure of the daemon stands beside the floor's."""
    tables = {side: rows(webhook, outcome) for side, outcome in outcomes.items()}
    labels = next(iter(tables.values())).keys()
    width = max(16, *(len(v) for table in tables.values() for v in table.values()))
    print()
    print(title.ljust(30) + "".join(side.rjust(width + 2) for side in tables))
    for label in labels:
        print(
            f"  {label:<28}" + "".join(table[label].rjust(width + 2) for table in tables.values())
        )
    for side, outcome in outcomes.items():
        for problem in outcome.problems:
            print(f"  {side}: {problem}")
    sys.stdout.flush()


SIDES: dict[str, Callable[[Webhook, str, Path, float, float], Awaitable[Outcome]]] = {
    "floor": floor_run,
    "daemon": daemon_run,
}


async def bench(
    args: argparse.Namespace, databases: list[str], server: PostgresServer | None, directory: Path
) -> bool:
    """Every side on every database, each on a database of its own; True if the daemon's
    checks held."""
    webhook = WEBHOOKS[args.webhook]
    sides = list(SIDES) if args.only == "both" else [args.only]
    held = True
    for database in databases:
        title = heading(webhook, database)
        outcomes = {}
        for run, side in enumerate(sides):
            url = await asyncio.to_thread(fresh_url, database, directory, server, run)
            print(f"{title} {side}: {args.rate:g} requests/s for {args.seconds:g} s", flush=True)
            outcomes[side] = await SIDES[side](webhook, url, directory, args.rate, args.seconds)
            held = held and (side == "floor" or not outcomes[side].problems)
        report(webhook, title, outcomes)
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--webhook",
        choices=list(WEBHOOKS),
        default=DEFAULT_WEBHOOK,
        help="Slack's events or Twilio's WhatsApp webhooks",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", choices=["floor", "daemon", "both"], default="both")
    parser.add_argument("--serve-floor", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(WEBHOOKS[args.webhook], args.serve_floor, args.port)
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
        raise SystemExit("a check of the daemon failed: its figures above are not valid")


if __name__ == "__main__":
    main()
