"""What a cluster of daemons made of the items it took, read from the database and from where
its sends arrived: each item one message, each conversation one ticket, each outbox row at its
sink once (a mail at most twice, with the same Message-ID, if a crash cut its record short)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

import pytest
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cluster_traffic import Sent
from tests.support.desk_cluster import Sinks
from tests.support.smtp_sink import SmtpSink
from threadline.core.models import InboundItem, Message, MessageRef, OutboxItem, Ticket

TICKET_TAG = re.compile(r"\[#(\d+)\]")
POLL_S = 0.2


@dataclass(frozen=True)
class Notified:
    """A notification mail an agent got: where their answer goes, and what it is about."""

    agent: str
    reply_to: str
    subject: str


class NotificationIndex:
    """The notifications at the sink by ticket, read as they arrive."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink
        self._read = 0
        self.by_ticket: dict[int, Notified] = {}

    def refresh(self) -> dict[int, Notified]:
        received = self._sink.received[self._read :]
        self._read += len(received)
        for mail in received:
            message = message_from_bytes(mail.data, policy=policy.default)
            tag = TICKET_TAG.search(str(message["Subject"]))
            if message["Reply-To"] is None or tag is None:
                continue
            (reply_to,) = message["Reply-To"].addresses
            notified = Notified(mail.rcpt_tos[0], reply_to.addr_spec, str(message["Subject"]))
            self.by_ticket.setdefault(int(tag.group(1)), notified)
        return self.by_ticket


def tickets_of(sessions: sessionmaker[Session], sent: Sequence[Sent]) -> dict[Sent, int]:
    """The ticket each item's message is on, for those processed already."""
    wanted = {(item.channel, item.external_id): item for item in sent}
    with sessions() as session:
        rows = session.execute(
            select(MessageRef.channel, MessageRef.external_id, Message.ticket_id)
            .join(Message, Message.id == MessageRef.message_id)
            .where(tuple_(MessageRef.channel, MessageRef.external_id).in_(list(wanted)))
        ).all()
    return {wanted[(channel, external_id)]: ticket for channel, external_id, ticket in rows}


def sent_unrecorded(sessions: sessionmaker[Session], sinks: Sinks, pid: int) -> bool:
    """Whether a Slack or WhatsApp reply that the daemon of this process id holds has reached
    its sink already, its row not yet recorded: a crash now leaves it to be sent again."""
    with sessions() as session:
        rows = session.execute(
            select(
                OutboxItem.channel,
                OutboxItem.idempotency_key,
                OutboxItem.recipient,
                OutboxItem.payload,
            ).where(
                OutboxItem.status == "pending",
                OutboxItem.channel.in_(("slack", "whatsapp")),
                OutboxItem.lease_owner.like(f"%:{pid}:%"),
            )
        ).all()
    if not rows:
        return False
    posted = {_post_key(post) for post in sinks.slack.posts}
    texted = {(message["To"], message["Body"]) for message in sinks.twilio.sent}
    return any(
        key in posted if channel == "slack" else (f"whatsapp:{to}", payload["body"]) in texted
        for channel, key, to, payload in rows
    )


def settled(sessions: sessionmaker[Session], items: int, timeout: float) -> float:
    """Seconds until at least ``items`` items are queued, none of them or of the outbox rows
    pending; fails at once on anything parked, with why."""
    started = time.monotonic()
    while True:
        with sessions() as session:
            inbound = _counted(session, _by_status(InboundItem))
            outbox = _counted(session, _by_status(OutboxItem))
            parked = _parked(session) if inbound["parked"] or outbox["parked"] else []
        assert parked == [], f"parked: {parked}"
        # More than ``items`` is a duplicate, which the assertions after this one name.
        if inbound.total() >= items and not inbound["pending"] and not outbox["pending"]:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"not settled within {timeout} s: inbound {inbound}, outbox {outbox}")
        time.sleep(POLL_S)


def _counted(session: Session, query: Any) -> Counter[Any]:
    """A ``(value, count)`` query as a Counter."""
    return Counter(dict(session.execute(query).all()))


def _by_status(model: type[InboundItem] | type[OutboxItem]) -> Any:
    return select(model.status, func.count()).group_by(model.status)


def _parked(session: Session) -> list[tuple[str, int, str | None]]:
    items = session.execute(
        select(InboundItem.id, InboundItem.last_error).where(InboundItem.status == "parked")
    )
    rows = session.execute(
        select(OutboxItem.id, OutboxItem.last_error).where(OutboxItem.status == "parked")
    )
    return [("inbound", *row) for row in items] + [("outbox", *row) for row in rows]


def assert_each_item_is_one_message(sessions: sessionmaker[Session], sent: Sequence[Sent]) -> None:
    """Every item taken is one item in the queue, processed into a message of its own, and
    known by its own id; no message stems from anything else."""
    assert len(set(sent)) == len(sent), "the test recorded an item twice"
    with sessions() as session:
        items = session.execute(
            select(InboundItem.channel, InboundItem.status, InboundItem.message_id)
        ).all()
        messages = _counted(
            session,
            select(Message.channel, func.count())
            .where(Message.is_system_message.is_(False))
            .group_by(Message.channel),
        )
    assert Counter(channel for channel, _status, _id in items) == Counter(i.channel for i in sent)
    assert {status for _channel, status, _id in items} == {"done"}
    made = [message_id for _channel, _status, message_id in items]
    assert None not in made
    assert len(set(made)) == len(made), "two items became one message"
    assert messages == Counter(i.channel for i in sent)
    tickets = tickets_of(sessions, sent)
    assert set(tickets) == set(sent), f"{len(set(sent) - set(tickets))} items without a message"


def assert_each_conversation_is_one_ticket(
    sessions: sessionmaker[Session], sent: Sequence[Sent]
) -> None:
    tickets = tickets_of(sessions, sent)
    by_conversation: dict[str, set[int]] = {}
    for item, ticket in tickets.items():
        by_conversation.setdefault(item.conversation, set()).add(ticket)
    split = {name: found for name, found in by_conversation.items() if len(found) > 1}
    assert split == {}
    with sessions() as session:
        opened = session.scalar(select(func.count()).select_from(Ticket))
    assert opened == len(by_conversation)


def rows_by_channel(sessions: sessionmaker[Session]) -> dict[str, list[OutboxItem]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
    found: dict[str, list[OutboxItem]] = {}
    for row in rows:
        found.setdefault(row.channel, []).append(row)
    return found


def assert_each_row_sent_once(
    rows: dict[str, list[OutboxItem]], sinks: Sinks, most_repeats: int
) -> dict[str, int]:
    """Each row ``sent`` and at its sink once; a mail may come twice with the same Message-ID
    when a crash cut its record short (its row was claimed again), for at most
    ``most_repeats`` rows. The Message-IDs that came twice, with their counts."""
    assert {row.status for group in rows.values() for row in group} == {"sent"}
    repeats = _mail_once(rows.get("email", []), sinks.smtp)
    claims = {row.provider_id: row.claims for row in rows.get("email", [])}
    assert [mid for mid in repeats if claims[mid] < 2] == [], "repeated but claimed once"
    assert set(repeats.values()) <= {2}, repeats
    assert len(repeats) <= most_repeats, repeats
    _slack_once(rows.get("slack", []), sinks)
    _twilio_once(rows.get("whatsapp", []), sinks)
    return repeats


def _mail_once(rows: list[OutboxItem], sink: SmtpSink) -> dict[str, int]:
    arrived: Counter[str] = Counter()
    recipients: dict[str, set[str]] = {}
    for mail in sink.received:
        message_id = str(message_from_bytes(mail.data, policy=policy.default)["Message-ID"])
        arrived[message_id.strip("<>")] += 1
        recipients.setdefault(message_id.strip("<>"), set()).update(mail.rcpt_tos)
    recorded = {row.provider_id: row.recipient for row in rows}
    assert len(recorded) == len(rows), "two rows recorded one Message-ID"
    assert set(arrived) == set(recorded)
    assert {mid: {to} for mid, to in recorded.items() if mid} == recipients
    return {mid: count for mid, count in arrived.items() if count > 1}


def _slack_once(rows: list[OutboxItem], sinks: Sinks) -> None:
    """Slack posts carry their row's key as metadata."""
    posted: Counter[str] = Counter()
    where: dict[str, str] = {}
    for post in sinks.slack.posts:
        key = _post_key(post)
        posted[key] += 1
        where[key] = f"{post['channel']}:{post['ts']}"
    assert posted == Counter(row.idempotency_key for row in rows)
    assert where == {row.idempotency_key: row.provider_id for row in rows}


def _post_key(post: dict[str, Any]) -> str:
    """The outbox key a Slack post carries as its metadata."""
    metadata = post["params"].get("metadata")
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return str(metadata["event_payload"]["key"])


def _twilio_once(rows: list[OutboxItem], sinks: Sinks) -> None:
    """Twilio's messages by recipient and text (every reply's text differs), and by sid."""
    sent = sinks.twilio.sent
    assert Counter((m["To"], m["Body"]) for m in sent) == Counter(
        (f"whatsapp:{row.recipient}", row.payload["body"]) for row in rows
    )
    assert {m["sid"] for m in sent} == {row.provider_id for row in rows}
