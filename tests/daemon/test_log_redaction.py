"""Secrets never reach the log output, whoever logs them and however."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from threadline.daemon.logs import configure_logging, redact_text, set_level
from threadline.daemon.settings import LoggingSettings

SECRET = "Hunter2-do-not-log"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="info", format="json"), stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"postgresql+psycopg://desk:{SECRET}@db.internal:5432/desk",
            "postgresql+psycopg://desk:***@db.internal:5432/desk",
        ),
        (f"dsn=postgresql://desk:p@{SECRET}@db/desk", "dsn=[redacted]"),
        ("sqlite:///var/threadline.db", "sqlite:///var/threadline.db"),
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer [redacted]"),
        (f"host=db password={SECRET} user=desk", "host=db password=[redacted] user=desk"),
        ("token xoxb-1234-5678-abcdefABCDEF sent", "token [redacted] sent"),
        (
            "reply to support+t1A2b3C4d5E6f7G8h9@desk.example for ticket 42",
            "reply to support+[redacted]@desk.example for ticket 42",
        ),
        (
            "list server rewrote it to support.t1A2b3C4d5E6f7G8h9@desk.example",
            "list server rewrote it to support.[redacted]@desk.example",
        ),
        ("from jane.doe@example.com and jane+work@example.com", None),
    ],
)
def test_redact_text_hides_secrets_and_keeps_the_rest(text: str, expected: str | None) -> None:
    assert redact_text(text) == (text if expected is None else expected)


def test_secret_keys_are_redacted_at_any_depth(output: io.StringIO) -> None:
    structlog.get_logger("test").info(
        "connecting",
        password=SECRET,
        smtp={"host": "mail.example.net", "api_key": SECRET, "ports": [25, 587]},
        headers={"Authorization": f"Basic {SECRET}"},
        attempts=3,
    )
    (line,) = lines(output)
    assert SECRET not in json.dumps(line)
    assert line["password"] == "[redacted]"
    assert line["smtp"] == {"host": "mail.example.net", "api_key": "[redacted]", "ports": [25, 587]}
    assert line["attempts"] == 3


def test_library_records_and_tracebacks_are_redacted_too(output: io.StringIO) -> None:
    url = f"postgresql://desk:{SECRET}@db.internal/desk"
    logging.getLogger("sqlalchemy.pool").warning("could not reach %s", url)
    try:
        raise ConnectionError(f"cannot connect to {url}")
    except ConnectionError:
        structlog.get_logger("test").exception("failed")
    assert SECRET not in output.getvalue()
    library, ours = lines(output)
    assert library["event"] == "could not reach postgresql://desk:***@db.internal/desk"
    assert library["logger"] == "sqlalchemy.pool"
    assert "ConnectionError: cannot connect to postgresql://desk:***@db" in ours["exception"]


def test_set_level_changes_what_is_written(output: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.debug("hidden")
    set_level("debug")
    log.debug("shown")
    logging.getLogger("aiohttp.server").debug("shown too")
    set_level("warning")
    log.info("hidden again")
    assert [line["event"] for line in lines(output)] == ["shown", "shown too"]


def test_console_format_writes_readable_lines(output: io.StringIO) -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="info", format="console"), stream)
    structlog.get_logger("test").info("threadline started", password=SECRET)
    text = stream.getvalue()
    assert "threadline started" in text
    assert not text.startswith("{")
    assert SECRET not in text
