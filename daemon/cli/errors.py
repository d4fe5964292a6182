"""Turning the failures an operator can meet into one line that says what to do next."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from threadline.channels.component import StartupError
from threadline.core.admin.errors import AdminError
from threadline.core.external_ids import InvalidExternalId


def one_line(error: BaseException) -> str:
    """The first line of an error's text, without the driver's SQL echo."""
    if isinstance(error, SQLAlchemyError) and getattr(error, "orig", None) is not None:
        error = error.orig  # type: ignore[assignment]
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def explain(error: BaseException) -> str:
    message = one_line(error)
    if isinstance(error, OperationalError | ProgrammingError) and (
        "no such table" in message or ("relation" in message and "does not exist" in message)
    ):
        return f"database has no threadline schema ({message}): run `threadline db upgrade`"
    if isinstance(error, OperationalError):
        return f"database unreachable: {message}"
    return message


class ThreadlineGroup(click.Group):
    """Lets no traceback reach the operator: core's refusals (unknown id, duplicate, invalid
    external id), a daemon that cannot start, and database or file failures become
    ``Error: <one line>``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (AdminError, InvalidExternalId, StartupError) as error:
            raise click.ClickException(str(error)) from None
        except (SQLAlchemyError, OSError) as error:
            raise click.ClickException(explain(error)) from None
