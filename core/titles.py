"""A ticket's title. Apart from ``core/store.py``, as composing mail needs its placeholder and
the compose workers import no database."""

from __future__ import annotations

from threadline.core.normalized import Inbound
from threadline.core.storable import without_nul

TITLE_LENGTH = 255
NO_SUBJECT = "(no subject)"


def ticket_title(inbound: Inbound) -> str:
    """The subject, else the first line of the text: a chat message has no subject."""
    title = " ".join(without_nul(inbound.subject).split())
    if not title:
        body = without_nul(inbound.body)
        first_line = next((line for line in body.splitlines() if line.strip()), "")
        title = " ".join(first_line.split())
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1] + "…"
    return title or NO_SUBJECT
