"""Which parser turns a channel's raw bytes into the normalized message.

Channels register here at process start; core looks parsers up by the channel name stored with
each inbound item, and so never imports a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from threadline.core.normalized import Inbound

Parser = Callable[[bytes, Mapping[str, Any]], Inbound]
"""``(raw, meta) -> Inbound``; raises on input it cannot read at all."""
Fetch = Callable[[Inbound, bytes, bool], Inbound]
"""``(parsed, raw, last_try) -> Inbound``: fills in what an item only names (a chat user's
name, files behind URLs) from its provider. Raises for what a later try of the item may fetch;
on the item's last try it returns the message with a note of what could not be had instead."""


class UnknownChannel(LookupError):
    pass


class ParserRegistry:
    def __init__(self) -> None:
        self._parsers: dict[str, Parser] = {}
        self._in_workers: set[str] = set()

    def register(self, channel: str, parser: Parser, *, in_workers: bool = True) -> None:
        """``in_workers``: the parser costs more than shipping an item to a parse worker and
        its message back (``daemon/parse_workers.py``). Mail does (about 330 µs against 20);
        JSON that pydantic-core validates does not."""
        if channel in self._parsers:
            raise ValueError(f"a parser for channel {channel!r} is already registered")
        self._parsers[channel] = parser
        if in_workers:
            self._in_workers.add(channel)

    def in_workers(self, channel: str) -> bool:
        return channel in self._in_workers

    def parse(self, channel: str, raw: bytes, meta: Mapping[str, Any]) -> Inbound:
        try:
            parser = self._parsers[channel]
        except KeyError:
            raise UnknownChannel(
                f"no parser for channel {channel!r} (known: {', '.join(sorted(self._parsers))})"
            ) from None
        return parser(raw, meta)
