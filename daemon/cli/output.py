"""How list and show commands print: aligned tables for people, one JSON document for scripts."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters but newline and tab: stored text came from strangers, and must not move
the operator's cursor or recolour the terminal."""


def format_option(command: F) -> F:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="table for reading, json for scripts (ISO 8601 UTC timestamps).",
    )(command)


def emit_json(document: Any) -> None:
    """Dataclasses become objects with their fields in declaration order, so keys are stable."""
    plain = (
        [dataclasses.asdict(item) for item in document]
        if isinstance(document, list)
        else dataclasses.asdict(document)
    )
    click.echo(json.dumps(plain, indent=2, ensure_ascii=False, default=_iso))


_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def json_line(document: Any) -> str:
    """One JSON document on one line, whatever line reader splits it: ``ensure_ascii=False``
    leaves U+2028, U+2029 and U+0085 raw inside strings, and Python's ``splitlines``, many
    editors and older JavaScript parsers end a line there. Escaped, they read back the same."""
    return json.dumps(document, ensure_ascii=False).translate(_LINE_BREAKS)


def emit_list(
    found: Sequence[T],
    output_format: str,
    headers: Sequence[str],
    row: Callable[[T], Sequence[object]],
    empty: str,
) -> None:
    """What a list command found: the JSON document, or a table of ``row`` of each."""
    if output_format == "json":
        emit_json(list(found))
        return
    emit_table(headers, (row(item) for item in found), empty)


def emit_table(headers: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> None:
    cells = [[cell_text(value) for value in row] for row in rows]
    if not cells:
        click.echo(empty)
        return
    table = [list(headers), *cells]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        click.echo(
            "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        )


def cell_text(value: object) -> str:
    """One line of safe text: a multi-line description must not break the columns."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return timestamp(value)
    return " ".join(safe_text(str(value)).split())


def safe_text(text: str) -> str:
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


def timestamp(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: object) -> str:
    """The columns hold naive UTC; the offset is written out so no reader guesses a zone."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
