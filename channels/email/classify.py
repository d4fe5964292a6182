"""Where a mail came from: a person, a machine answering, a list, or ourselves (screening decides
what may go back; answering a machine is how mail loops start).

Headers first, since they are what RFC 3834 and the big senders set; the subject only catches
the out-of-office replies of servers that set none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from threadline.channels.email.addresses import Fields
from threadline.channels.email.charsets import unfolded
from threadline.channels.email.marker import LOOP_HEADER
from threadline.core.normalized import Classification

_AUTOMATIC_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress")
"""Set by vacation responders (and by Exchange on its automatic mail); any value counts."""
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_LIST_HEADERS = ("list-id", "list-unsubscribe")
_DAEMONS = frozenset({"mailer-daemon", "postmaster"})
_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:"
    r"out of (?:the )?office|auto(?:matic)?[- ]?(?:reply|response)|autoreply|vacation reply"
    r"|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|absence du bureau"
    r"|respuesta autom[áa]tica|fuera de la oficina|risposta automatica|fuori ufficio"
    r"|automatisch antwoord|afwezig"
    r")\b",
    re.IGNORECASE,
)


def classify(
    fields: Fields,
    subject: str,
    sender: str | None,
    meta: Mapping[str, Any],
    is_report: bool,
) -> Classification:
    """``is_report``: the mail is a delivery status report (``multipart/report``)."""
    if LOOP_HEADER.lower() in fields:
        return Classification.LOOP
    if is_report or _from_daemon(sender):
        return Classification.BOUNCE
    if _auto_submitted(fields) or _OUT_OF_OFFICE.search(subject):
        return Classification.AUTO_REPLY
    if any(name in fields for name in _AUTOMATIC_HEADERS) or _null_return_path(fields, meta):
        return Classification.AUTO_REPLY
    precedence = _first(fields, "precedence").lower()
    if precedence == "auto_reply":
        return Classification.AUTO_REPLY
    if precedence in _BULK_PRECEDENCE or any(name in fields for name in _LIST_HEADERS):
        return Classification.BULK
    return Classification.PERSONAL


def _auto_submitted(fields: Fields) -> bool:
    """RFC 3834: any value but ``no`` (``auto-replied``, ``auto-generated``, ...)."""
    value = _first(fields, "auto-submitted").split(";", 1)[0].strip().lower()
    return bool(value) and value != "no"


def _null_return_path(fields: Fields, meta: Mapping[str, Any]) -> bool:
    """The null sender ``<>`` is reserved for mail no one may answer (RFC 5321 §4.5.5)."""
    if meta.get("mail_from") == "":
        return True
    return "return-path" in fields and _first(fields, "return-path").replace(" ", "") == "<>"


def _from_daemon(sender: str | None) -> bool:
    if not sender:
        return False
    return sender.rpartition("@")[0].lower() in _DAEMONS


def _first(fields: Fields, name: str) -> str:
    values: Sequence[str] = fields.get(name, ())
    return unfolded(values[0]).strip() if values else ""
