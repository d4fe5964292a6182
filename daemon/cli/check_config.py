"""``threadline check-config PATH``: every problem of a file at once, each with its key path."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.daemon.config import ConfigError, load_settings

EXIT_INVALID = 2


@click.command("check-config")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def check_config(path: Path) -> None:
    """Validate a configuration file (with THREADLINE_* variables applied); exit 2 if invalid."""
    try:
        load_settings(path)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        count = len(error.problems)
        click.echo(f"{path}: {count} problem{'s' if count != 1 else ''}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    click.echo(f"{path}: ok")
