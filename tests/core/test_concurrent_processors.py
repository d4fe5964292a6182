"""Several processors on one PostgreSQL (DESIGN §8): batches claimed side by side may hold
messages of one conversation, and must thread them into one ticket.

Side by side, a reply may be handled before the message it answers, which one processor never
does: when it then bridges a ticket opened meanwhile, the two are merged (the newer stays behind
closed, ``merged_into`` the older). So what is counted is the tickets left open to work on, one
per conversation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.generator import Mix, messages
from threadline.channels import normalized
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem, Ticket
from threadline.core.processor import Tally
from threadline.core.settings import IntakeSettings
from threadline.daemon.processing import processing
from threadline.daemon.settings import settings_model

WORKERS = 3
COUNT = 600
REPLIES = Mix(new_sender=0.2, known_sender=0.2, reply_by_reference=0.6, reply_by_tag=0.0)
"""Replies by In-Reply-To only: a ``[#N]`` tag names a ticket people were told of, which
exists by then; the generator's tags are guessed from arrival order, which side by side
processing does not keep."""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_processors_side_by_side_thread_every_conversation_into_one_ticket(
    sessions: sessionmaker[Session],
):
    inbounds = list(messages(COUNT, mix=REPLIES))
    conversations = sum(not inbound.hints.in_reply_to for inbound in inbounds)
    Intake(sessions).accept_many(
        [
            RawItem(normalized.CHANNEL, inbound.hints.own_id or "", normalized.encode(inbound))
            for inbound in inbounds
        ]
    )
    settings = settings_model()(intake=IntakeSettings(batch_size=10, parse_workers=0))

    def drain(_worker: int) -> Tally:
        with processing(settings, sessions) as processor:
            return processor.run_until_idle()

    with ThreadPoolExecutor(WORKERS) as pool:
        tallies = list(pool.map(drain, range(WORKERS)))

    assert sum(t.done for t in tallies) == COUNT
    assert all(t.retrying == t.parked == 0 for t in tallies), tallies
    with sessions() as session:
        fields = session.scalars(select(Ticket.custom_fields)).all()
        live = [f for f in fields if "merged_into" not in (f or {})]
        assert len(live) == conversations
        pending = select(func.count()).where(InboundItem.status != "done")
        assert session.scalar(pending) == 0
