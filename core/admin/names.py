"""Display names, checked alike on SQLite (which ignores VARCHAR widths) and PostgreSQL."""

from __future__ import annotations

from threadline.core.admin.errors import InvalidInput

NAME_LENGTH = 255


def required_name(value: str, what: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidInput(f"{what} name is empty")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"{what} name is longer than {NAME_LENGTH} characters")
    return name
