"""Slack's message text both ways: what a customer wrote, as plain text for the ticket, and
stored text as Slack shows it, escaped so it can neither mention (``<!channel>``) nor link.

Slack escapes ``&``, ``<`` and ``>`` in what it sends and reads ``<...>`` as a mention, a
channel or a link (``<@U123>``, ``<#C123|general>``, ``<https://x|label>``, ``<!here>``).
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"<([^<>]*)>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def plain_text(text: str) -> str:
    return _unescape(_SPECIAL.sub(_readable, text))


def escaped(text: str) -> str:
    """Also breaks a bare ``@channel``/``@here``, which Slack would otherwise notify for."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"@(channel|here|everyone)\b", "@\u200b\\1", text)


def _readable(match: re.Match[str]) -> str:
    inner = match[1]
    target, _bar, label = inner.partition("|")
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        return f"@{label or target[1:].split('^')[0]}"
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if label and label != target:
        return f"{label} ({target})"
    return target


def _unescape(text: str) -> str:
    for entity, character in _ENTITIES:
        text = text.replace(entity, character)
    return text
