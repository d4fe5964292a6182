"""A header block as its sender meant it, before the parser reads it.

The parser ends the header at the first line that is neither a field nor a continuation, and
reads everything after it as body: a mail whose first line is an mbox ``From `` line or a
banner (``---- Original email message ----``) then has no header at all, and one whose folded
line lost its leading whitespace loses the From, Subject and Date below it.
"""

from __future__ import annotations

import re

_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
"""A header field's name and colon (RFC 5322: printable characters but the colon)."""
_STRAY = re.compile(rb"^(?![!-9;-~]+[ \t]*:|[ \t])[^\r\n]", re.MULTILINE)
"""A line that is neither a field nor a continuation."""
_END = re.compile(rb"\r?\n\r?\n")


def repaired(raw: bytes) -> bytes:
    """``raw`` with a stray first line left out and a continuation without whitespace given
    some, when header fields follow them; unchanged (the same object) otherwise. The parser
    calls it only for a mail whose header it found cut short."""
    end_match = _END.search(raw)
    end = end_match.start() if end_match else len(raw)
    stray = _STRAY.search(raw, 0, end)
    if stray is None:
        return raw
    lines = raw[:end].splitlines(keepends=True)
    if not _FIELD.match(lines[0]) and len(lines) > 1 and _FIELD.match(lines[1]):
        lines = lines[1:]  # an mbox "From " line, a banner
    fields = [index for index, line in enumerate(lines) if _FIELD.match(line)]
    if not fields:
        return raw
    for index in range(1, fields[-1]):
        line = lines[index]
        if not _FIELD.match(line) and not line[:1].isspace():
            lines[index] = b" " + line
    return b"".join(lines) + raw[end:]
