"""What every command shares: ``--config``, loading settings, opening the database.

Each function imports what it uses when it runs: ``threadline ingest``, which an MTA starts once
per mail, takes ``--config`` from here and does not load pydantic or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from threadline.daemon.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def config_option(command: F) -> F:
    """``--config PATH`` (or ``THREADLINE_CONFIG``); without it, the embedded defaults apply."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="THREADLINE_CONFIG",
        help="TOML configuration file (default: embedded defaults, see config.example.toml).",
    )(command)


def load(config_path: Path | None) -> Settings:
    from threadline.daemon.config import ConfigError, load_settings

    try:
        return load_settings(config_path)
    except ConfigError as error:
        raise click.ClickException(
            "invalid configuration (run `threadline check-config` for details): "
            + "; ".join(error.problems)
        ) from None


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    from threadline.core.db import make_engine

    engine = make_engine(settings.database.url, settings.database.pool_size)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """Committed when the command's work is done; nothing is printed as done before that."""
    from threadline.core.db import session_factory, unit_of_work

    with database(settings) as engine, unit_of_work(session_factory(engine)) as session:
        yield session
