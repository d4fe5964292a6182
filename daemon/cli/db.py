"""``threadline db upgrade|current``: the schema's Alembic revision."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from threadline.core.migrate import current_revision, head_revision, upgrade
from threadline.daemon.cli.common import config_option, database, load


@click.group("db")
def db() -> None:
    """Create or upgrade the database schema."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Apply every pending migration (creates the tables on an empty database)."""
    settings = load(config_path)
    with database(settings) as engine:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    where = make_url(settings.database.url).render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: upgraded from {before or 'an empty database'} to {after}")


@db.command("current")
@config_option
def db_current(config_path: Path | None) -> None:
    """Print the schema revision, and whether migrations are pending (exit 1 if so)."""
    settings = load(config_path)
    with database(settings) as engine:
        current, head = current_revision(engine), head_revision(engine)
    if current == head:
        click.echo(f"{current} (head)")
        return
    click.echo(f"{current or 'none'} (head is {head}: run `threadline db upgrade`)")
    raise SystemExit(1)
