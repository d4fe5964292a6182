"""Inbound items, start to finish: a batch's messages through the steps of
``core/pipeline_steps.py`` (screen, identify, thread, store, status, fan out), in order.

A batch of items runs as one :class:`BatchWork` in the caller's transaction (the processor's
batch, or an item's SAVEPOINT when it isolates a failure), so a batch either leaves all its
traces or none. What the batch's messages need is prefetched in a few set queries first, what
they write goes out in a few multi-row statements at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.identity import create_unknown_senders, sender_key
from threadline.core.normalized import Inbound
from threadline.core.outcome import Outcome
from threadline.core.pipeline_steps import STEPS, InFlight, PipelineSettings, Step
from threadline.core.processor import QueuedItem
from threadline.core.threader import surely_new_tickets, thread_keys, verified_token
from threadline.core.tokens import ReplyToken, TokenSigner


class Pipeline:
    def __init__(
        self,
        signer: TokenSigner,
        settings: PipelineSettings,
        clock: Callable[[], datetime],
        steps: Sequence[Step] = STEPS,
    ) -> None:
        self._signer = signer
        self._settings = settings
        self._clock = clock
        self._steps = steps

    def handle(self, session: Session, items: Sequence[QueuedItem]) -> list[Outcome]:
        """The processor's handler, its items parsed by :class:`ParseAhead` as its
        ``prepare``: an item whose parse failed raises that failure, as its own."""
        inbounds = []
        for item in items:
            if isinstance(item.prepared, Exception):
                raise item.prepared
            if not isinstance(item.prepared, Inbound):
                raise TypeError(f"inbound item {item.id} was not parsed ahead")
            inbounds.append(item.prepared)
        return self.handle_inbounds(session, inbounds, [item.accepted_at for item in items])

    def handle_inbounds(
        self,
        session: Session,
        inbounds: Sequence[Inbound],
        accepted: Sequence[datetime | None] | None = None,
    ) -> list[Outcome]:
        """Handle the messages in order as one unit of work; ``accepted``: when each was
        accepted (where None, or without it, now)."""
        work = BatchWork(session, self._clock())
        tokens = [verified_token(inbound, self._signer) for inbound in inbounds]
        identity = self._settings.identity
        senders = [sender_key(inbound.sender, identity) for inbound in inbounds]
        work.prefetch(
            senders=[key for key in senders if key is not None],
            keys=[(inbound.channel, key) for inbound in inbounds for key in thread_keys(inbound)],
            ticket_ids=[
                *(token.ticket_id for token in tokens if token is not None),
                *(tag for inbound in inbounds if (tag := inbound.hints.subject_tag) is not None),
            ],
        )
        create_unknown_senders(work, inbounds, tokens, senders, identity, self._settings.traits)
        work.ids.reserve("tickets", surely_new_tickets(work, inbounds, tokens, senders))
        outcomes = [
            self._handle(work, inbound, token, at or work.now)
            for inbound, token, at in zip(
                inbounds, tokens, accepted or [None] * len(inbounds), strict=True
            )
        ]
        work.flush()
        return outcomes

    def _handle(
        self, work: BatchWork, inbound: Inbound, token: ReplyToken | None, accepted_at: datetime
    ) -> Outcome:
        message = InFlight(inbound, token, accepted_at)
        for step in self._steps:
            ended = step(work, message, self._settings)
            if ended is not None:
                return ended
        return Outcome("done", message_id=message.message.id)
