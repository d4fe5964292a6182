"""What the sender wrote this time, without the mail they answered or their signature.

The most reliable sign wins: our own marker line (which every mail we send starts with), then
the quote markers of the big mail clients, then ``mail-parser-reply``, which knows the
"On …, Ada wrote:" and "From: … Sent: …" headers of many languages. The library costs about
half a microsecond a character, so it only sees the few lines around what looks like such a
header; the text above the header it finds is the reply, as written (the library's own copy has
every line stripped, which would lose the indentation of code and logs).

Only the standard signature separator (``-- ``) cuts a signature: the library's guesses (a line
starting "Thanks," or "- ") would cut what a customer wrote after them.

A forward has no reply: when nothing the sender wrote stands above a client's quote or forward
header (nothing at all, a separator line like ``----- Original Nachricht ----``, or only their
signature), the reply is empty and the message's body is its full text, so an agent sees what
the customer forwarded. (Above our own marker, nothing is an agent's empty reply.)
"""

from __future__ import annotations

import re

import lxml.html
from mailparser_reply import EmailMessage, EmailReplyParser

from threadline.channels.email.html_body import (
    drop_client_quotes,
    has_client_quote,
    parse_html,
    tree_text,
)
from threadline.channels.email.marker import REPLY_MARKER

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
"""Whose reply headers the library looks for; every language adds to its cost."""
_LANGUAGES = tuple(EmailReplyParser(languages=list(LANGUAGES)).languages)
"""``LANGUAGES`` as the library's parser passes them on to each message it reads."""
_HEADER_REGEX = EmailMessage(text="", languages=list(_LANGUAGES)).HEADER_REGEX
_ORIGINAL_MESSAGE = re.compile(
    r"^[ \t>]*-{3,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht)[ \t]*-{3,}[ \t]*$"
    r"|^[ \t>]*_{30,}[ \t]*\r?\n[ \t>*]*(?:From|Von|De|Da|Van)[ \t]*\*?:",
    re.MULTILINE | re.IGNORECASE,
)
"""Outlook's plain-text separators: the classic line, and the rule above its header block."""
_ATTRIBUTION = re.compile(r":[ \t]*\r?\n(?:[ \t]*\r?\n)?[ \t]*>")
"""An attribution line right above a quote: "On …, Ada wrote:" and then "> …"."""
_HEADER_PAIR = re.compile(
    r"\n[ \t*]*[^\W\d_][^\s:]{1,20}(?: [^\W\d_][^\s:]{1,20})?[ \t*]*:[ \t]*\S[^\n]*\n"
    r"[ \t*]*[^\W\d_][^\s:]{1,20}(?: [^\W\d_][^\s:]{1,20})?[ \t*]*:"
)
"""Two header lines in a row: Outlook's "From: Ada" and "Sent: Monday", in any language."""
_HINTS_TRIED = 3
_LINES_ABOVE = 2
"""Lines above a hint the library also sees: an attribution a client wrapped."""
_LOOKAHEAD = 120
"""Characters past a hint the library also sees: the rest of a header block."""
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_SEPARATOR = re.compile(r"[ \t>]*(?:[-_=*~]{3,}.*)?")
"""A line that is nothing but a separator (or blank): it starts with a run of rule characters."""


def reply_text(full_text: str, html: str | None, tree: lxml.html.HtmlElement | None) -> str:
    """``tree`` is ``html`` already parsed (when the text came from it); it may be changed."""
    text = _above_marker(full_text)
    if text is not None:
        return _without_signature(text)
    if html and has_client_quote(html):
        root = tree if tree is not None else parse_html(html)
        if root is not None and drop_client_quotes(root):
            text = tree_text(root)
    if text is None:
        text = _above_original_message(full_text)
    if text is None:
        text = _above_reply_header(full_text)
    if text is None:
        return _without_signature(full_text)
    reply = _without_rules_below(_without_signature(text))
    return "" if _SIGNATURE.match(reply) else reply


def _above_marker(text: str) -> str | None:
    # A one-character test is a memchr, many times faster than a longer search: most texts
    # have no "#" (nor "-" or "_" below), and then the longer search cannot find anything.
    position = text.find(REPLY_MARKER) if REPLY_MARKER[0] in text else -1
    if position < 0:
        return None
    text = _without_quote_tail(text[: text.rfind("\n", 0, position) + 1])
    start = text.rfind("\n") + 1
    return text[:start] if text.endswith(":") else text


def _above_original_message(text: str) -> str | None:
    if ("-" not in text or "---" not in text) and ("_" not in text or "___" not in text):
        return None
    match = _ORIGINAL_MESSAGE.search(text)
    return None if match is None else text[: match.start()]


def _above_reply_header(text: str) -> str | None:
    if ":" not in text:
        return None
    hints = sorted(
        (*_ATTRIBUTION.finditer(text), *_HEADER_PAIR.finditer(text)), key=lambda m: m.start()
    )
    for hint in hints[:_HINTS_TRIED]:
        start = hint.start()
        for _line in range(_LINES_ABOVE + 1):
            start = text.rfind("\n", 0, max(start - 1, 0)) + 1
        replies = (
            _HeaderFinder(text[start : hint.end() + _LOOKAHEAD], list(_LANGUAGES)).read().replies
        )
        header = next((reply.headers for reply in replies if reply.headers), "")
        first = next((line.strip() for line in header.splitlines() if line.strip()), "")
        position = text.find(first, start) if first else -1
        if position >= 0:
            return text[: text.rfind("\n", 0, position) + 1]
    return None


class _HeaderFinder(EmailMessage):
    """The library's message, splitting at the same headers, without the work this module
    does not use: each message builds its header pattern anew (here built once, above), and
    each reply's signature and disclaimers are searched with patterns as long again."""

    @property
    def HEADER_REGEX(self) -> re.Pattern[str]:
        return _HEADER_REGEX

    def _process_signatures_disclaimers(self, text: str) -> tuple[list[str], str]:
        return [], ""


def _without_signature(text: str) -> str:
    if "-" in text and (text.startswith("--") or "\n--" in text):
        match = _SIGNATURE.search(text)
        if match is not None and match.start() > 0:
            text = text[: match.start()]
    return _without_quote_tail(text).strip()


def _without_rules_below(text: str) -> str:
    """Separator lines left above a cut (Gmail's "---------- Forwarded message ---------") are
    not what the sender wrote; a text of nothing else is empty."""
    lines = text.split("\n")
    while lines and _SEPARATOR.fullmatch(lines[-1]):
        lines.pop()
    return "\n".join(lines).rstrip()


def _without_quote_tail(text: str) -> str:
    """Quoted lines at the end are what is left of the answered mail."""
    text = text.rstrip()
    while text:
        start = text.rfind("\n") + 1
        if not text[start:].lstrip().startswith(">"):
            break
        text = text[:start].rstrip()
    return text
