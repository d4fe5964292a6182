"""The pipeline is an ordered list of steps of one shape: a new rule is one function and one
line in the list, and it sees what the steps before it found."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.batch_work import BatchWork
from threadline.core.models import Message, Ticket
from threadline.core.outcome import Outcome
from threadline.core.pipeline_steps import STEPS, InFlight, PipelineSettings


def test_a_step_added_to_the_list_runs_for_every_message_after_those_before_it(
    sessions: sessionmaker[Session],
):
    seen: list[tuple[int, bool, str]] = []

    def audit(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
        seen.append((it.ticket.id, it.created, it.message.body))
        return None

    desk = desk_pipeline(sessions, steps=(*STEPS, audit))
    first = desk.deliver(email("ada@example.com", "a1@mail", body="Printer on fire"))
    desk.deliver(email("ada@example.com", "a2@mail", body="Still", in_reply_to=("a1@mail",)))

    with sessions() as session:
        ticket_id = session.scalar(select(Message.ticket_id).where(Message.id == first.message_id))
    assert seen == [(ticket_id, True, "Printer on fire"), (ticket_id, False, "Still")]


def test_a_step_that_ends_a_message_stores_nothing_of_it(sessions: sessionmaker[Session]):
    def hold(work: BatchWork, it: InFlight, settings: PipelineSettings) -> Outcome | None:
        return Outcome("ignored", reason="held for review")

    identify = next(n for n, step in enumerate(STEPS) if step.__name__ == "identify")
    desk = desk_pipeline(sessions, steps=(*STEPS[: identify + 1], hold, *STEPS[identify + 1 :]))

    outcome = desk.deliver(email("ada@example.com", "h1@mail"))

    assert outcome == Outcome("ignored", reason="held for review")
    with sessions() as session:
        assert session.scalars(select(Message)).all() == []
        assert session.scalars(select(Ticket)).all() == []
