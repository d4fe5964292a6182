"""What customers and agents send a cluster of daemons: mail over SMTP, Slack events and Twilio
webhooks signed with the real algorithms. Each item goes to one daemon first and, when that one
does not take it, to the next, as an MTA tries its next hop and a reverse proxy its next
upstream: an item a killed daemon had stored without answering reaches another one too, which
must store it once."""

from __future__ import annotations

import http.client
import smtplib
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Generic, TypeVar

from tests.support.desk_cluster import DESK, PUBLIC_URL, SIGNING_SECRET
from tests.support.fake_slack import TEAM_ID
from tests.support.fake_twilio import message_form, signed_webhook
from tests.support.slack_events import event_envelope, signed_request

HOST = "127.0.0.1"
TIMEOUT_S = 30.0
"""Per request or mail: a daemon under load answers in milliseconds, a dead one at once."""
HOPS_DEADLINE_S = 90.0
"""How long an item may go round the daemons before the test gives up on it."""
ROUND_PAUSE_S = 0.05
"""Between two rounds of every daemon refusing: while one restarts, the others still take."""


@dataclass(frozen=True)
class Sent:
    """An item a daemon took: the channel it is stored on, the id the desk knows it by
    (Message-ID, Slack ``channel:ts``, Twilio sid) and the conversation it belongs to."""

    channel: str
    external_id: str
    conversation: str


C = TypeVar("C", smtplib.SMTP, http.client.HTTPConnection)


class Refused(Exception):
    """A daemon's temporary refusal (``4xx`` mail, ``5xx`` webhook): the next one is tried."""


TRANSIENT = (OSError, http.client.HTTPException, Refused)
"""smtplib's errors are OSErrors; a refusal to keep is turned into an AssertionError first."""


def through_hops(
    ports: Sequence[int], first: int, attempt: Callable[[int], None], drop: Callable[[int], None]
) -> int:
    """``attempt`` on each port from ``first`` on until one succeeds; the failovers it took."""
    deadline = time.monotonic() + HOPS_DEADLINE_S
    tries = 0
    while True:
        port = ports[(first + tries) % len(ports)]
        try:
            attempt(port)
            return tries
        except TRANSIENT as error:
            drop(port)
            failure = error
        tries += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"no daemon took the item within {HOPS_DEADLINE_S} s: {failure!r}")
        if tries % len(ports) == 0:
            time.sleep(ROUND_PAUSE_S)


class _Hops(Generic[C]):
    """Connections kept open to each daemon, for one sending thread, and the failovers taken."""

    def __init__(self, ports: Sequence[int]) -> None:
        self._ports = list(ports)
        self._open: dict[int, C] = {}
        self.failovers = 0

    def _through(self, first: int, attempt: Callable[[int], None]) -> None:
        self.failovers += through_hops(self._ports, first, attempt, self._drop)

    def close(self) -> None:
        for port in list(self._open):
            self._drop(port)

    def _drop(self, port: int) -> None:
        connection = self._open.pop(port, None)
        if connection is not None:
            connection.close()


class MailHops(_Hops[smtplib.SMTP]):
    """SMTP connections kept open to each daemon's listener."""

    def send(self, first: int, sender: str, recipient: str, data: bytes) -> None:
        def attempt(port: int) -> None:
            connection = self._open.get(port)
            if connection is None:
                connection = self._open[port] = smtplib.SMTP(HOST, port, timeout=TIMEOUT_S)
            try:
                connection.sendmail(sender, [recipient], data)
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _reply in error.recipients.values()]
                if any(code >= 500 for code in codes):
                    raise AssertionError(f"mail to {recipient} refused: {error}") from None
                raise Refused(str(error)) from None
            except smtplib.SMTPResponseException as error:
                if error.smtp_code >= 500:
                    raise AssertionError(f"mail from {sender} refused: {error}") from None
                raise Refused(str(error)) from None

        self._through(first, attempt)


class WebHops(_Hops[http.client.HTTPConnection]):
    """HTTP connections kept open to each daemon."""

    def post(self, first: int, path: str, body: bytes, headers: dict[str, str]) -> None:
        def attempt(port: int) -> None:
            connection = self._open.get(port)
            if connection is None:
                connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT_S)
                self._open[port] = connection
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status >= 500:
                raise Refused(f"HTTP {response.status}")
            if response.status != 200:
                raise AssertionError(f"{path} answered {response.status}: {answer!r}")

        self._through(first, attempt)


def client_mail(sender: str, message_id: str, subject: str, text: str, parent: str = "") -> bytes:
    """A client's mail to the desk; with ``parent``, a reply to that Message-ID."""
    headers = [
        f"From: {sender}",
        f"To: {DESK}",
        f"Subject: {subject}",
        f"Message-ID: <{message_id}>",
        f"Date: {format_datetime(datetime.now(UTC))}",
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    return ("\r\n".join(headers) + f"\r\n\r\n{text}\r\n").encode()


def agent_mail(agent: str, reply_to: str, message_id: str, subject: str, text: str) -> bytes:
    """An agent's answer through the Reply-To address of a notification they got."""
    return (
        f"From: {agent}\r\nTo: {reply_to}\r\nSubject: Re: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: {format_datetime(datetime.now(UTC))}\r\n"
        f"\r\n{text}\r\n"
    ).encode()


def slack_message(
    event_id: str, user: str, channel: str, text: str, ts: str, thread_ts: str = ""
) -> tuple[bytes, dict[str, str]]:
    """A client's DM to the app (a reply in a thread with ``thread_ts``), as Slack posts it
    to the Events API, signed with the app's secret."""
    event = {
        "type": "message",
        "channel": channel,
        "channel_type": "im",
        "user": user,
        "team": TEAM_ID,
        "text": text,
        "ts": ts,
        **({"thread_ts": thread_ts} if thread_ts else {}),
    }
    return signed_request(SIGNING_SECRET, event_envelope(event, event_id=event_id))


def whatsapp_message(sid: str, number: str, text: str) -> tuple[bytes, dict[str, str]]:
    """A client's WhatsApp message, as Twilio posts it to the public URL, signed."""
    form = message_form(sid, number, text, ProfileName=f"Client {number[-4:]}")
    signed = signed_webhook(f"{PUBLIC_URL}/twilio/whatsapp", form)
    return urllib.parse.urlencode(form).encode(), signed
