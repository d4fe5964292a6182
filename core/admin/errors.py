"""Refusals an operator can meet, worded so the message alone says what to do next."""

from __future__ import annotations


class AdminError(Exception):
    """Base of every refusal here: the CLI shows its message as one line."""


class NotFound(AdminError):
    """A named or numbered thing that does not exist."""


class Conflict(AdminError):
    """The change would break a uniqueness the support desk relies on."""


class InvalidInput(AdminError, ValueError):
    """A value no column of the schema would accept."""
