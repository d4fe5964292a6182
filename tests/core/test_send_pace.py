"""Turns to send to a paced destination, shared through the database by every daemon on it,
on both databases: spaced by the pace, never one twice, and a turn too far off not taken."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import make_engine, session_factory
from threadline.core.models import DestinationPace
from threadline.core.send_pace import LONGEST_WAIT_S, SendPace
from threadline.core.senders import NotYet

START = 1_800_000_000.0


class Clock:
    """A clock that moves only when someone sleeps, as a daemon's would meanwhile."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def pace(sessions: sessionmaker[Session], clock: Clock) -> SendPace:
    return SendPace(sessions, clock=clock, sleep=clock.sleep)


def next_at(sessions: sessionmaker[Session], destination: str) -> float | None:
    with sessions() as session:
        return session.scalar(
            select(DestinationPace.next_at).where(DestinationPace.destination == destination)
        )


def test_sends_to_one_destination_wait_their_turns_and_others_do_not(
    sessions: sessionmaker[Session],
):
    clock = Clock()
    slack = pace(sessions, clock)
    for _ in range(3):
        slack.wait("slack:C1", 1.0)
    slack.wait("slack:C2", 1.0)

    assert clock.slept == [1.0, 2.0]
    assert next_at(sessions, "slack:C1") == START + 3.0


def test_two_daemons_share_the_turns_through_the_database(engine: Engine):
    """Each with its own engine, as two processes would be."""
    other = make_engine(engine.url)
    try:
        first, second = Clock(), Clock()
        pace(session_factory(engine), first).wait("whatsapp:+1555", 0.5)
        pace(session_factory(other), second).wait("whatsapp:+1555", 0.5)
    finally:
        other.dispose()

    assert (first.slept, second.slept) == ([], [0.5])


def test_a_turn_too_far_off_is_not_taken_and_says_when_to_come_back(
    sessions: sessionmaker[Session],
):
    clock = Clock()
    slack = pace(sessions, clock)
    turns = int(LONGEST_WAIT_S) + 1
    for _ in range(turns):
        slack.wait("slack:C1", 1.0)
    booked = next_at(sessions, "slack:C1")

    with pytest.raises(NotYet) as held:
        slack.wait("slack:C1", 1.0)

    assert next_at(sessions, "slack:C1") == booked
    assert held.value.seconds == pytest.approx(booked - (START + LONGEST_WAIT_S))


def test_a_destination_quiet_for_longer_than_its_pace_sends_at_once(
    sessions: sessionmaker[Session],
):
    clock = Clock()
    slack = pace(sessions, clock)
    slack.wait("slack:C1", 1.0)
    clock.now += 10
    slack.wait("slack:C1", 1.0)

    assert clock.slept == []
    assert next_at(sessions, "slack:C1") == START + 11.0
