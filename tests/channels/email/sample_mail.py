"""Mails for the parser's tests: a plain one with headers to override, or one from ``mails/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from threadline.channels.email.parser import parse
from threadline.core.normalized import Inbound

MAILS = Path(__file__).parent / "mails"

HEADERS = {
    "From": "Ada Lovelace <ada@example.com>",
    "To": "Support <support@example.com>",
    "Subject": "Printer broken",
    "Date": "Mon, 2 Mar 2026 09:00:00 +0100",
    "Message-ID": "<a1@mail.example.com>",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=utf-8",
}


def mail(body: bytes | str = "Hello, my printer is broken.", **headers: str | None) -> bytes:
    """A mail with ``HEADERS``, changed by ``headers`` (``Message_ID=`` for ``Message-ID``;
    None leaves a header out)."""
    fields = {**HEADERS, **{name.replace("_", "-"): value for name, value in headers.items()}}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value is not None)
    return head.encode() + b"\r\n" + (body.encode() if isinstance(body, str) else body)


def stored(name: str) -> bytes:
    return (MAILS / name).read_bytes()


def parsed(raw: bytes, **meta: Any) -> Inbound:
    return parse(raw, meta)
