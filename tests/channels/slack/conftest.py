"""A desk with Slack for the end-to-end tests: the daemon as a subprocess on each database,
the fake Slack Web API for its calls, a smarthost sink for its mail, and events signed with
the real algorithm."""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import DaemonProcess, eventually
from tests.support.desk_process import desk_daemon, inbound_items, run_threadline, settled
from tests.support.fake_slack import TEAM_ID, FakeSlack
from tests.support.slack_events import event_envelope, signed_request
from tests.support.smtp_sink import SmtpSink
from threadline.core.models import InboundItem, Message, MessageRef, OutboxItem, Ticket

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SUPPORT = "C0SUPPORT"
AGENTS = "C0AGENTS"
SHARED = "C0SHARED"
AGENT_EMAIL = "grace@staff.example"
AGENT_USER = "U0GRACE"
CLIENT_USER = "U0ADA"
WAIT_S = 15.0


@dataclass
class SlackDesk:
    daemon: DaemonProcess
    slack: FakeSlack
    sink: SmtpSink
    smtp_port: int
    sessions: sessionmaker[Session]
    config: Path
    _ids: Iterator[int]
    _ts: Iterator[int]

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def message(self, text: str, **fields: Any) -> dict[str, Any]:
        """A customer's DM to the app, unless ``fields`` say otherwise."""
        event = {
            "type": "message",
            "channel": "D0ADA",
            "channel_type": "im",
            "user": CLIENT_USER,
            "team": TEAM_ID,
            "text": text,
            "ts": self.next_ts(),
        }
        return {**event, **fields}

    def send(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        shared: bool = False,
        retry: int = 0,
        secret: str = SECRET,
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        envelope = event_envelope(
            event, event_id=event_id or f"Ev{next(self._ids):08d}", is_ext_shared_channel=shared
        )
        return self.post(envelope, secret=secret, timestamp=timestamp, retry=retry)

    def post(
        self,
        body: dict[str, Any],
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        retry: int = 0,
    ) -> tuple[int, str]:
        data, headers = signed_request(secret, body, timestamp)
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        url = f"http://127.0.0.1:{self.daemon.port}/slack/events"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=WAIT_S) as response:  # noqa: S310 (loopback)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def mail(self, sender: str, subject: str, body: str, message_id: str) -> None:
        mail = (
            f"From: {sender}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nDate: Sun, 06 Dec 2026 08:00:00 +0000\r\n\r\n{body}\r\n"
        )
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=WAIT_S) as client:
            assert client.sendmail(sender, ["support@desk.example"], mail.encode()) == {}

    def threadline(self, *args: str) -> str:
        return run_threadline(self.config, *args)

    def items(self) -> list[InboundItem]:
        return inbound_items(self.sessions)

    def tickets(self) -> list[Ticket]:
        with self.sessions() as session:
            return list(session.scalars(select(Ticket).order_by(Ticket.id)))

    def messages(self, ticket_id: int | None = None) -> list[Message]:
        with self.sessions() as session:
            query = select(Message).order_by(Message.created_at, Message.id)
            if ticket_id is not None:
                query = query.where(Message.ticket_id == ticket_id)
            return list(session.scalars(query))

    def outbox(self) -> list[OutboxItem]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))

    def settled(self) -> list[InboundItem]:
        return settled(self.sessions, WAIT_S)


@pytest.fixture
def slack_desk(
    request: pytest.FixtureRequest, tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> Iterator[SlackDesk]:
    """Items tried 5 times, or as often as the test's indirect parameter says."""
    with FakeSlack() as slack, SmtpSink() as sink:
        slack.add_user(CLIENT_USER, TEAM_ID, "Ada Lovelace")
        slack.add_user(AGENT_USER, TEAM_ID, "Grace Hopper", AGENT_EMAIL)
        started = desk_daemon(
            tmp_path,
            db_url,
            sink.port,
            f'\n[slack]\nenabled = true\nsigning_secret = "{SECRET}"\n'
            f'bot_token = "{slack.token}"\napi_base_url = "{slack.api_url}"\n'
            f'support_channels = ["{SUPPORT}"]\nagents_channel = "{AGENTS}"\n',
            commands=[
                ("users", "add", "Grace Hopper", AGENT_EMAIL),
                ("users", "link", AGENT_EMAIL, "slack", f"{TEAM_ID}:{AGENT_USER}"),
            ],
            max_attempts=getattr(request, "param", 5),
        )
        with started as (daemon, smtp_port):
            config = daemon.config
            yield SlackDesk(daemon, slack, sink, smtp_port, sessions, config, count(1), count(1))


def healthz(desk: SlackDesk) -> dict[str, Any]:
    return json.loads(desk.daemon.get("/healthz")[1])


def recorded(sessions: sessionmaker[Session], post: dict[str, Any]) -> str:
    """The post's ts, once the desk has recorded the post: the dispatcher records its sends
    after they went out (every 50 ms), and an agent's answer in its thread before that finds
    no ticket yet and waits for a retry (``test_replies.py`` tests that on its own)."""
    ref = f"{post['channel']}:{post['ts']}"
    query = select(MessageRef.id).where(
        MessageRef.channel == "slack", MessageRef.external_id == ref
    )

    def found() -> bool:
        with sessions() as session:
            return session.scalar(query) is not None

    eventually("the post recorded", found)
    return str(post["ts"])
