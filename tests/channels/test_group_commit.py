"""Concurrent webhook accepts share commits, and each still hears only of its own."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.group_commit import GroupCommit
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem


async def test_a_burst_is_committed_in_few_transactions_each_answered_for_itself(
    sessions: sessionmaker[Session],
):
    commits: list[int] = []
    group = GroupCommit(
        Intake(sessions, on_accepted=lambda channels: commits.append(len(channels)))
    )
    items = [RawItem("slack", f"Ev{n % 150}", b"{}") for n in range(200)]

    answers = await asyncio.gather(*(group.accept(item) for item in items))

    assert [answer.duplicate for answer in answers[:150]] == [False] * 150
    assert [answer.duplicate for answer in answers[150:]] == [True] * 50
    assert [answer.id for answer in answers[150:]] == [answer.id for answer in answers[:50]]
    assert sum(commits) == 150
    assert len(commits) < 10
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundItem)) == 150


async def test_a_commit_that_fails_fails_every_request_in_it_and_the_next_one_goes_on(
    sessions: sessionmaker[Session],
):
    group = GroupCommit(Intake(sessions))
    broken = RawItem("slack", "Ev1", b"{}", {"unstorable": object()})

    results = await asyncio.gather(
        group.accept(broken), group.accept(RawItem("slack", "Ev2", b"{}")), return_exceptions=True
    )

    assert all(isinstance(result, Exception) for result in results)
    assert not (await group.accept(RawItem("slack", "Ev3", b"{}"))).duplicate
    with sessions() as session:
        assert session.scalars(select(InboundItem.dedup_key)).all() == ["Ev3"]
