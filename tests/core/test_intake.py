"""Accept: durable before it returns, deduplicated per channel, one commit per batch."""

from __future__ import annotations

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.dedup import content_key
from threadline.core.intake import ROWS_PER_STATEMENT, Accepted, Intake, RawItem
from threadline.core.models import InboundItem


def count_items(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InboundItem)) or 0


def count_commits(engine: Engine) -> list[int]:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    return commits


def test_accepted_item_is_committed_with_its_bytes_and_meta(sessions: sessionmaker[Session]):
    accepted = Intake(sessions).accept(
        RawItem("email", "<a@example.com>", b"\x00raw\xff", {"rcpt": "help@example.com"})
    )

    assert not accepted.duplicate
    with sessions() as session:
        item = session.get_one(InboundItem, accepted.id)
        assert (item.channel, item.raw, item.meta) == (
            "email",
            b"\x00raw\xff",
            {"rcpt": "help@example.com"},
        )
        assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 0, None)


def test_duplicate_accept_returns_the_first_id_and_stores_one_row(
    sessions: sessionmaker[Session],
):
    intake = Intake(sessions)
    first = intake.accept(RawItem("email", "<a@example.com>", b"first"))

    again = intake.accept(RawItem("email", "<a@example.com>", b"redelivered"))

    assert again.id == first.id
    assert again.duplicate
    assert count_items(sessions) == 1
    with sessions() as session:
        assert session.get_one(InboundItem, first.id).raw == b"first"


def test_the_same_key_on_another_channel_is_another_item(sessions: sessionmaker[Session]):
    intake = Intake(sessions)
    email = intake.accept(RawItem("email", "k1", b"x"))
    slack = intake.accept(RawItem("slack", "k1", b"x"))

    assert email.id != slack.id
    assert not slack.duplicate


def test_accept_many_is_one_commit_and_answers_duplicates_inside_the_batch(
    engine: Engine, sessions: sessionmaker[Session]
):
    intake = Intake(sessions)
    stored = intake.accept(RawItem("email", "old", b"old"))
    commits = count_commits(engine)

    answers = intake.accept_many(
        [
            RawItem("email", "a", b"a"),
            RawItem("email", "old", b"old again"),
            RawItem("email", "b", b"b"),
            RawItem("email", "a", b"a again"),
        ]
    )

    assert len(commits) == 1
    assert [a.duplicate for a in answers] == [False, True, False, True]
    assert answers[1].id == stored.id
    assert answers[3].id == answers[0].id
    assert len({answers[0].id, answers[2].id, stored.id}) == 3
    assert count_items(sessions) == 3


def test_a_batch_beyond_one_statement_is_still_one_commit(
    engine: Engine, sessions: sessionmaker[Session]
):
    intake = Intake(sessions)
    size = ROWS_PER_STATEMENT * 3 + 7
    intake.accept_many([RawItem("email", f"k{n}", b"x") for n in range(0, size, 2)])
    commits = count_commits(engine)

    answers = intake.accept_many([RawItem("email", f"k{n}", b"x") for n in range(size)])

    assert len(commits) == 1
    assert [a.duplicate for a in answers] == [n % 2 == 0 for n in range(size)]
    assert len({a.id for a in answers}) == size
    assert count_items(sessions) == size


def test_a_long_dedup_key_is_stored_as_its_digest_and_still_deduplicates(
    sessions: sessionmaker[Session],
):
    intake = Intake(sessions)
    key = "<" + "x" * 400 + "@example.com>"

    first = intake.accept(RawItem("email", key, b"x"))
    again = intake.accept(RawItem("email", key, b"x"))

    assert again == Accepted(first.id, duplicate=True)
    with sessions() as session:
        assert session.get_one(InboundItem, first.id).dedup_key.startswith("sha256:")


def test_on_accepted_wakes_after_the_commit_and_only_for_new_items(sessions: sessionmaker[Session]):
    wakes: list[int] = []
    intake = Intake(sessions, on_accepted=lambda _channels: wakes.append(count_items(sessions)))

    intake.accept(RawItem("email", "a", b"a"))
    intake.accept(RawItem("email", "a", b"a"))
    intake.accept_many([])

    assert wakes == [1]


def test_content_key_is_the_same_for_the_same_bytes_only():
    assert content_key(b"mail") == content_key(b"mail")
    assert content_key(b"mail") != content_key(b"mail ")


def test_a_nul_in_a_key_or_in_the_meta_is_accepted_on_either_database(
    sessions: sessionmaker[Session],
):
    """PostgreSQL text and JSONB refuse NUL; an envelope or a Message-ID may carry one."""
    intake = Intake(sessions)
    item = RawItem("email", "mid:a\x00b", b"raw", {"rcpt_tos": ["x\x00y@example.com"]})

    first, again = intake.accept(item), intake.accept(item)

    assert (first.duplicate, again) == (False, Accepted(first.id, True))
    with sessions() as session:
        stored = session.get_one(InboundItem, first.id)
    assert stored.dedup_key.startswith("sha256:")
    assert stored.meta == {"rcpt_tos": ["xy@example.com"]}
