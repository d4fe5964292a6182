"""What every command shares: ``--config``, loading settings, opening the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from threadline.core.db import make_engine, session_factory, unit_of_work
from threadline.daemon.config import ConfigError, load_settings
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
    try:
        return load_settings(config_path)
    except ConfigError as error:
        raise click.ClickException(
            "invalid configuration (run `threadline check-config` for details): "
            + "; ".join(error.problems)
        ) from None


@contextmanager
def database(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database.url, settings.database.pool_size)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """Committed when the command's work is done; nothing is printed as done before that."""
    with database(settings) as engine, unit_of_work(session_factory(engine)) as session:
        yield session
