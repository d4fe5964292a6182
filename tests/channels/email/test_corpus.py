"""CPython's own test mails (the data of ``test.test_email``): decades of broken MIME, odd
charsets and bounces, read from the installed Python and never copied here."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email import CHANNEL
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.email.parser import parse
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem, Message
from threadline.core.normalized import Inbound
from threadline.core.outcome import Park
from threadline.daemon.processing import processing
from threadline.daemon.settings import default_settings

PARKED = {
    "msg_05.txt": "From: foo, a name without an address, and no other sender",
    "msg_11.txt": "a bare message/rfc822 wrapper: no sender header at all",
    "msg_18.txt": "a header-folding test: Content-Type and X- headers only",
    "msg_19.txt": "a digest body without any header",
    "msg_37.txt": "a MIME-structure test: Content-Type only",
    "msg_38.txt": "a MIME-structure test: MIME-Version and Content-Type only",
    "msg_39.txt": "a MIME-structure test: MIME-Version and Content-Type only",
    "msg_40.txt": "a MIME-structure test: MIME-Version and Content-Type only",
}
"""Every corpus mail that names no sender at all, and why: nobody to open a ticket for."""


def corpus() -> list[Path]:
    try:
        spec = importlib.util.find_spec("test.test_email")
    except ModuleNotFoundError:
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return sorted([*data.glob("*.txt"), *data.glob("*.eml")])


@pytest.fixture(scope="module")
def mails() -> list[Path]:
    found = corpus()
    if not found:
        message = (
            "CPython's test.test_email mails are not installed "
            "(Debian ships them in libpython3.11-testsuite)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_every_corpus_mail_parses_or_is_parked_for_having_no_sender(mails: list[Path]):
    parked = {}
    for path in mails:
        try:
            assert isinstance(parse(path.read_bytes(), {}), Inbound)
        except Park as park:
            parked[path.name] = str(park)

    assert sorted(parked) == sorted(PARKED)
    assert all("sender" in reason for reason in parked.values())


def test_every_corpus_mail_is_stored_or_parked_for_a_reason(
    sessions: sessionmaker[Session], mails: list[Path]
):
    raws = [path.read_bytes() for path in mails]
    accepted = Intake(sessions).accept_many(
        [RawItem(CHANNEL, mail_dedup_key(raw), raw) for raw in raws]
    )
    settings = default_settings()
    with processing(settings, sessions) as processor:
        processor.run_until_idle()

    with sessions() as session:
        items = {item.id: item for item in session.scalars(select(InboundItem))}
        for path, answer in zip(mails, accepted, strict=True):
            item = items[answer.id]
            if path.name in PARKED:
                assert item.status == "parked", path.name
                assert "sender" in (item.last_error or ""), path.name
                assert item.raw == path.read_bytes()
            else:
                assert item.status == "done", (path.name, item.status, item.last_error)
                assert session.get(Message, item.message_id) is not None, path.name
