"""Turning the failures an operator can meet into one line that says what to do next.

Light to import: every command loads this module, ``threadline ingest`` (started once per mail
by an MTA) among them, and SQLAlchemy alone would take 150 ms of its start. A database error is
told by its driver's class names, and the modules of the refusals are imported once a command
has failed.
"""

from __future__ import annotations

import sys
from typing import Any

import click


def one_line(error: BaseException) -> str:
    """The first line of an error's text, without the driver's SQL echo."""
    error = _driver_error(error)
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def explain(error: BaseException) -> str:
    cause = _driver_error(error)
    message = one_line(cause)
    if _is(cause, "OperationalError", "ProgrammingError") and (
        "no such table" in message or ("relation" in message and "does not exist" in message)
    ):
        return f"database has no threadline schema ({message}): run `threadline db upgrade`"
    if _is(cause, "OperationalError"):
        return f"database unreachable: {message}"
    return message


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own error inside SQLAlchemy's wrapper, whose text adds the SQL. A process
    that never loaded SQLAlchemy raised no such wrapper, and does not load it to find out."""
    exc = sys.modules.get("sqlalchemy.exc")
    if exc is not None and isinstance(error, exc.SQLAlchemyError):
        return getattr(error, "orig", None) or error
    return error


def _is(error: BaseException, *names: str) -> bool:
    """Whether the error is one of these PEP 249 classes (``OperationalError``) of whichever
    driver raised it: by class name, as SQLAlchemy names its wrappers after the driver's error."""
    return any(kind.__name__ in names for kind in type(error).__mro__)


class ThreadlineGroup(click.Group):
    """Lets no traceback reach the operator: core's refusals (unknown id, duplicate, invalid
    external id), a daemon that cannot start, and database or file failures become
    ``Error: <one line>``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = _for_operator(error)
            if message is None:
                raise
            raise click.ClickException(message) from None


def _for_operator(error: Exception) -> str | None:
    """The line to show for a failure an operator can meet; None for a fault of ours."""
    from sqlalchemy.exc import SQLAlchemyError

    from threadline.channels.component import StartupError
    from threadline.core.admin.errors import AdminError
    from threadline.core.external_ids import InvalidExternalId

    if isinstance(error, AdminError | InvalidExternalId | StartupError):
        return str(error)
    if isinstance(error, SQLAlchemyError | OSError):
        return explain(error)
    return None
