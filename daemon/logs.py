"""Logging: structlog events and the libraries' stdlib records, one line each, secrets redacted.

Everything goes through the stdlib root logger so that aiohttp, SQLAlchemy or APScheduler records
come out in the same format as ours, and so the level lives in one place that SIGHUP can change.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from structlog.types import EventDict, Processor

from threadline.daemon.settings import LoggingSettings, LogLevel

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"passw|secret|token|authorization|api_?key|credential|cookie|signature", re.IGNORECASE
)
_URL_WITH_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@'\"]*:[^\s@'\"]*@[^\s'\"]*")
_ASSIGNED_SECRET = re.compile(
    r"\b(passw(?:or)?d|secret|token|api_?key)(['\"]?\s*[=:]\s*['\"]?)[^\s,;&'\"]+", re.IGNORECASE
)
# Reply tokens ride in the recipient's local part (``support+<token>@`` or, where a list server
# drops ``+``, ``support.<token>@``); HMAC tokens are long, so short tags and names stay readable.
_REPLY_TOKEN = re.compile(r"(?<=[+.])[A-Za-z0-9_=\-]{16,}(?=@)")
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
_SLACK_TOKEN = re.compile(r"\bxox[a-z]-[A-Za-z0-9\-]+")


class _RootHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installs, so configuring again replaces only ours."""


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """JSON lines for journald, or console lines for a person at a terminal (``auto``)."""
    stream = stream or sys.stdout
    as_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _RootHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # Tracebacks become text before redaction, so a URL in an exception is scrubbed.
                structlog.processors.format_exc_info,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _RootHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Alembic announces its dialect at INFO whenever the daemon checks the schema revision,
    # APScheduler every job it adds and every start and stop (the scheduler logs its own runs),
    # and twilio's client every request with its headers and the client's number in the query.
    for chatty in ("alembic.runtime.migration", "apscheduler", "twilio.http_client"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    set_level(settings.level)


def set_level(level: LogLevel) -> None:
    logging.getLogger().setLevel(level.upper())


def redact_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: no password, token or credential reaches the output."""
    return _redact_mapping(event_dict)


def redact_text(text: str) -> str:
    """The text with database URL passwords, bearer/Slack tokens and reply tokens hidden."""
    text = _URL_WITH_PASSWORD.sub(_hide_url_password, text)
    text = _ASSIGNED_SECRET.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    text = _SLACK_TOKEN.sub(REDACTED, text)
    return _REPLY_TOKEN.sub(REDACTED, text)


def _redact_mapping(mapping: Mapping[str, Any]) -> MutableMapping[str, Any]:
    return {
        key: REDACTED if _SECRET_KEY.search(str(key)) and value else _redact_value(value)
        for key, value in mapping.items()
    }


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _hide_url_password(match: re.Match[str]) -> str:
    try:
        url = make_url(match.group(0))
    except (ArgumentError, ValueError):
        return REDACTED
    if "@" in (url.host or ""):
        # An unescaped "@" in the password: the parser split it early, part of it is in the host.
        return REDACTED
    return url.render_as_string(hide_password=True)
