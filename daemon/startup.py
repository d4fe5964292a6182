"""The one error a start can end with: apart from the supervisor, so the command line can
report it without importing the whole daemon (each command would pay for aiohttp at start)."""

from __future__ import annotations


class StartupError(Exception):
    """The daemon cannot start; the message is one line that says what to do next."""
