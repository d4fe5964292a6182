"""An answer to a notice that concerns no single ticket (a digest) is parked for an operator,
never made a ticket; an automatic one is ignored. On both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.models import Ticket
from threadline.core.normalized import Classification, ThreadHints
from threadline.core.outcome import Park

NOTICE_ANSWER = ThreadHints(
    own_id="re@desk", in_reply_to=("tl.notice.x@desk",), answers_notice=True
)


def test_an_answer_to_a_notice_is_parked_and_opens_no_ticket(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions)
    with pytest.raises(Park, match="concerns no single ticket"):
        desk.deliver(replace(email("grace@desk.example"), hints=NOTICE_ANSWER))
    automatic = replace(
        email("grace@desk.example"), hints=NOTICE_ANSWER, classification=Classification.AUTO_REPLY
    )
    assert desk.deliver(automatic).status == "ignored"
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
