"""Parsers for the parse workers' tests. Module-level, as a worker process imports its registry
builder by name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from threadline.core.normalized import Inbound, SenderIdentity
from threadline.core.outcome import Park
from threadline.core.parsers import ParserRegistry

CHANNEL = "test"
CHEAP_CHANNEL = "test-cheap"
"""Parsed by the same function, registered as not worth a worker."""
DIE = b"die"
"""Raw bytes that kill the worker process parsing them, as a crash in a C extension would."""
HANG = b"hang"
"""Raw bytes whose parse runs away inside the regular expression engine, C code that never
returns to Python, so only a watchdog outside the GIL can stop it. About ten seconds here
(2**28 steps of backtracking): far over the test's timeout, yet a regression fails rather
than hangs the suite."""
FAIL = b"fail"
PARK = b"park"


def parse(raw: bytes, _meta: Mapping[str, Any]) -> Inbound:
    """The raw bytes as the subject and the parsing process's pid as the text."""
    if raw == DIE:
        os._exit(70)
    if raw == HANG:
        re.match(r"(a+)+$", "a" * 28 + "b")
    if raw == FAIL:
        raise ValueError("unreadable\nsecond line")
    if raw == PARK:
        raise Park("no sender at all")
    return Inbound(
        channel=CHANNEL,
        sender=SenderIdentity("email", "ada@example.com"),
        subject=raw[:40].decode(errors="replace"),
        full_text=str(os.getpid()),
    )


def build_test_parsers() -> ParserRegistry:
    parsers = ParserRegistry()
    parsers.register(CHANNEL, parse)
    parsers.register(CHEAP_CHANNEL, parse, in_workers=False)
    return parsers
