"""The ids a mail threads by: its own Message-ID, the ones it answers, its subject tag, its date.

Ids are kept without angle brackets (``a1@mail``), the form ``message_refs`` stores them in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from threadline.channels.email.charsets import unfolded

MAX_ID = 512
"""The width of ``message_refs.external_id``: a longer id is replaced by its digest."""
MAX_REFERENCES = 64
"""References beyond these (the oldest) are dropped: a thread that long still meets its ticket
through the nearest ones, and a forged header cannot make one mail write thousands of refs."""
MAX_TICKET_ID = 2**31 - 1
"""A larger ``[#123]`` cannot name a ticket (``tickets.id`` is an INTEGER) and would fail the
lookup on PostgreSQL."""
INVALID_DOMAIN = "threadline.invalid"
OUR_ID_PREFIX = "tl."
NOTICE_ID_PREFIX = f"{OUR_ID_PREFIX}notice."
"""Our notices that concern no single ticket: ``notice`` is no token."""
"""How the Message-IDs of our mail begin."""

_BRACKETED = re.compile(r"<([^<>\s]+)>")
_SUBJECT_TAG = re.compile(r"\[#([0-9]{1,10})\]")


def own_id(values: Sequence[str], raw: bytes) -> str:
    """The Message-ID; for a mail without one, a digest of its bytes, so parsing it again (a
    retry) finds the same id and the same stored message."""
    found = message_ids(values[:1])
    if found:
        return found[0]
    return f"{hashlib.sha256(raw).hexdigest()}@{INVALID_DOMAIN}"


def message_ids(values: Sequence[str]) -> tuple[str, ...]:
    """Every ``<id>`` in the header values, in order, without repeats. A value with no brackets
    at all (some clients write a bare In-Reply-To) counts as one id when it looks like one."""
    ids: list[str] = []
    for value in values:
        text = unfolded(value)
        found = _BRACKETED.findall(text)
        if not found:
            bare = text.strip()
            found = [bare] if "@" in bare and len(bare.split()) == 1 else []
        ids.extend(_bounded(id_) for id_ in found)
    return tuple(dict.fromkeys(ids))


def references(values: Sequence[str]) -> tuple[str, ...]:
    return message_ids(values)[-MAX_REFERENCES:]


def our_tokens(ids: Sequence[str]) -> tuple[str, ...]:
    """The reply tokens embedded in ids of our own mail (``tl.<token>.<digest>@<domain>``,
    ``compose.message_id``), nearest first: the threader verifies them, so a forged one is
    worth nothing."""
    found = (id_.split(".", 2)[1] for id_ in ids if id_.startswith(OUR_ID_PREFIX))
    return tuple(dict.fromkeys(token for token in found if token))


def answers_notice(in_reply_to: Sequence[str]) -> bool:
    return any(id_.startswith(NOTICE_ID_PREFIX) for id_ in in_reply_to)


def subject_tag(subject: str) -> int | None:
    match = _SUBJECT_TAG.search(subject)
    if match is None:
        return None
    number = int(match[1])
    return number if 0 < number <= MAX_TICKET_ID else None


def sent_at(values: Sequence[str]) -> datetime | None:
    """The Date as naive UTC; None when there is none or it cannot be read."""
    if not values:
        return None
    try:
        moment = parsedate_to_datetime(unfolded(values[0]))
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _bounded(id_: str) -> str:
    if len(id_) <= MAX_ID:
        return id_
    return f"{hashlib.sha256(id_.encode()).hexdigest()}@{INVALID_DOMAIN}"
