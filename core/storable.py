"""Text as the databases can hold it: PostgreSQL's text and JSONB refuse NUL, which broken or
hostile input does carry (a NUL in a mail's Message-ID, in an SMTP envelope). Refused, the
whole accept or batch would fail and be retried for ever; NUL means nothing to a reader."""

from __future__ import annotations

from typing import Any


def without_nul(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def storable_document(value: Any) -> Any:
    """A JSON document with NUL removed from every string in it, keys included."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul(str(key)): storable_document(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_document(item) for item in value]
    return value
