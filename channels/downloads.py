"""Fetching the files a provider's message only names (a Slack file, a Twilio media item), the
same way for every channel: whole or not at all, up to a size limit, tried a few times on what
may pass, and told apart from what never will.

An item whose file cannot be had yet fails (the queue retries it later); on its last try, or
when the file can never be had, the message is stored with a note naming the file and why, so
nothing is held back for good and nothing goes missing silently.
"""

from __future__ import annotations

import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace

from threadline.core.backoff import Backoff
from threadline.core.normalized import Inbound, InboundAttachment

TRIES = 3
TIMEOUT_S = 30
TRANSIENT_STATUSES = frozenset({408, 429})
"""With every 5xx: worth another try."""
_BACKOFF = Backoff(initial=0.5, maximum=2.0)


class FileUnavailable(Exception):
    """A file could not be fetched this time; a later try of the item may."""


class FileRefused(Exception):
    """No later try can fetch the file."""


@dataclass(frozen=True)
class Wanted:
    name: str
    url: str
    content_type: str


@dataclass(frozen=True)
class Missing:
    name: str
    reason: str
    for_now: bool = True
    """A later try may fetch it."""


def download(
    url: str,
    authorization: str,
    limit: int,
    transient: frozenset[int] = TRANSIENT_STATUSES,
    expected_type: str | None = None,
) -> bytes:
    """``authorization`` goes to the provider only, never to where it redirects (a storage
    host's signed URL refuses a second credential). A page served instead of a file of
    ``expected_type`` (a sign-in page) is refused."""
    request = urllib.request.Request(url)  # noqa: S310 (the provider's https URL, a test's loopback)
    request.add_unredirected_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            served = response.headers.get_content_type()
            content = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        if error.code in transient or error.code >= 500:
            raise FileUnavailable(f"answered HTTP {error.code}") from None
        raise FileRefused(f"answered HTTP {error.code}") from None
    except OSError as error:
        raise FileUnavailable(f"is unreachable: {error}") from None
    if served == "text/html" and expected_type not in (None, "text/html"):
        raise FileRefused("served a web page instead of the file (a permission missing?)")
    if len(content) > limit:
        raise FileRefused(f"sent over {limit} bytes")
    return content


def fetch_one(
    source: str,
    wanted: Wanted,
    authorization: str,
    limit: int,
    transient: frozenset[int] = TRANSIENT_STATUSES,
) -> InboundAttachment | Missing:
    """Tried :data:`TRIES` times, some seconds apart, while it may pass; ``source`` names the
    provider in what the message says of a file it lacks."""
    rng = random.Random()
    reason = ""
    for attempt in range(1, TRIES + 1):
        try:
            content = download(wanted.url, authorization, limit, transient, wanted.content_type)
            return InboundAttachment(wanted.name, wanted.content_type, content)
        except FileRefused as error:
            return Missing(wanted.name, f"{source} {error}", for_now=False)
        except FileUnavailable as error:
            reason = f"{source} {error}"
        if attempt < TRIES:
            time.sleep(_BACKOFF.delay(attempt, rng))
    return Missing(wanted.name, reason)


def with_files(
    inbound: Inbound,
    got: Sequence[InboundAttachment | Missing],
    last_try: bool,
    **changes: object,
) -> Inbound:
    """The message with its files, or :class:`FileUnavailable` while a later try may still
    fetch one; what is missing for good is named in its text."""
    missing = [item for item in got if isinstance(item, Missing)]
    if any(item.for_now for item in missing) and not last_try:
        raise FileUnavailable("; ".join(f"{item.name}: {item.reason}" for item in missing))
    notes = [f"[File {item.name} not kept: {item.reason}]" for item in missing]
    text = "\n".join([inbound.reply_text, *notes]).strip()
    attachments = tuple(item for item in got if isinstance(item, InboundAttachment))
    return replace(inbound, attachments=attachments, reply_text=text, full_text=text, **changes)
