"""The processor's ``prepare`` with each channel's fetch after the parse (``Channel.fetch``):
what an item only names (a chat user's name, a file behind a URL) is fetched from its provider
in the processor's thread, once the batch's parse is in and before its transaction opens, so a
slow provider never holds a transaction or a webhook's answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from threadline.core.normalized import Inbound
from threadline.core.outcome import Park
from threadline.core.parsers import Fetch
from threadline.core.processor import Prepare, QueuedItem
from threadline.daemon.parse_workers import ParseFailed


def fetching(parse: Prepare, fetchers: Mapping[str, Fetch], max_attempts: int) -> Prepare:
    """``max_attempts``: the item's last try, on which a fetch keeps what it has."""
    if not fetchers:
        return parse

    def prepare(items: Sequence[QueuedItem]) -> Callable[[], Sequence[object]]:
        parsed = parse(items)

        def fetched() -> list[object]:
            return [
                _fetch(fetchers, item, result, max_attempts)
                for item, result in zip(items, parsed(), strict=True)
            ]

        return fetched

    return prepare


def _fetch(
    fetchers: Mapping[str, Fetch], item: QueuedItem, parsed: object, max_attempts: int
) -> object:
    fetch = fetchers.get(item.channel)
    if fetch is None or not isinstance(parsed, Inbound):
        return parsed
    try:
        return fetch(parsed, item.raw, item.attempts + 1 >= max_attempts)
    except Park as park:
        return park
    except Exception as error:
        return ParseFailed(f"{type(error).__name__}: {error}")
