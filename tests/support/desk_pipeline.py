"""The real pipeline on a test database, with a clock the test moves."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.support.messages import SLACK_TRAITS, WHATSAPP_TRAITS
from tests.support.outbox import RecordingSender
from threadline.core.dispatcher import Dispatcher
from threadline.core.normalized import Inbound
from threadline.core.outcome import Outcome
from threadline.core.pipeline import Pipeline, PipelineSettings
from threadline.core.pipeline_steps import STEPS, Step
from threadline.core.senders import SenderRegistry
from threadline.core.settings import (
    AssignmentSettings,
    AttachmentSettings,
    DispatchSettings,
    IdentitySettings,
    NotificationSettings,
    RoutingSettings,
    ThreadingSettings,
    TicketSettings,
)
from threadline.core.tokens import TokenSigner
from threadline.daemon import channels

SECRET = "test-secret-for-reply-tokens"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class DeskPipeline:
    sessions: sessionmaker[Session]
    pipeline: Pipeline
    clock: Clock
    signer: TokenSigner

    def deliver(self, inbound: Inbound) -> Outcome:
        """One message through the pipeline (a batch of one) in its own committed
        transaction."""
        (outcome,) = self.deliver_batch([inbound])
        return outcome

    def dispatch(self, sender: RecordingSender, channel: str = "email") -> None:
        """Send what is due by the desk's clock through ``sender``, as ``channel``'s, until
        nothing is left."""
        senders = SenderRegistry()
        senders.register(channel, sender)
        dispatcher = Dispatcher(
            self.sessions, senders, DispatchSettings(), self.clock, "worker", random.Random(7)
        )
        while dispatcher.run_batch():
            pass

    def deliver_batch(self, inbounds: list[Inbound]) -> list[Outcome]:
        """Messages handled together, as the processor hands a batch over: later ones may
        answer earlier ones of the same batch."""
        with self.sessions.begin() as session:
            return self.pipeline.handle_inbounds(session, inbounds)


def desk_pipeline(
    sessions: sessionmaker[Session],
    *,
    identity: IdentitySettings | None = None,
    threading: ThreadingSettings | None = None,
    tickets: TicketSettings | None = None,
    routing: RoutingSettings | None = None,
    notifications: NotificationSettings | None = None,
    assignment: AssignmentSettings | None = None,
    attachments: AttachmentSettings | None = None,
    suppress_bounced_for: timedelta = timedelta(days=30),
    steps: Sequence[Step] = STEPS,
) -> DeskPipeline:
    """The pipeline as ``threadline run`` assembles it, with the listed channels' traits and
    those of WhatsApp and Slack, which core tests simulate."""
    clock = Clock()
    signer = TokenSigner(SECRET)
    settings = PipelineSettings(
        identity=identity or IdentitySettings(),
        threading=threading or ThreadingSettings(),
        tickets=tickets or TicketSettings(),
        routing=routing or RoutingSettings(),
        notifications=notifications or NotificationSettings(coalesce_seconds=0),
        assignment=assignment or AssignmentSettings(),
        attachments=attachments or AttachmentSettings(),
        traits={**channels.traits(), "whatsapp": WHATSAPP_TRAITS, "slack": SLACK_TRAITS},
        suppress_bounced_for={"email": suppress_bounced_for},
    )
    return DeskPipeline(sessions, Pipeline(signer, settings, clock, steps), clock, signer)
