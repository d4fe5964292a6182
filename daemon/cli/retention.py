"""``threadline retention [--dry-run]``: remove now what ``[retention]`` keeps no longer."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.db import session_factory
from threadline.core.models.base import now_utc
from threadline.core.retention import purge
from threadline.daemon.cli.common import config_option, database, load


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@config_option
def retention(dry_run: bool, config_path: Path | None) -> None:
    """Remove what [retention] keeps no longer (raw bytes of processed inbound items, read
    notifications, closed tickets if configured, unreferenced attachment contents), as the
    daemon's retention job does, but until nothing is left: in transactions of
    retention.batch_size rows, so it can run beside the daemon."""
    settings = load(config_path)
    with database(settings) as engine:
        report = purge(
            session_factory(engine), settings.retention, now_utc(), dry_run=dry_run, batches=None
        )
    for line in report.lines():
        click.echo(line)
