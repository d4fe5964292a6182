"""``threadline process``: run the processor in the foreground, without the daemon."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from threadline.core.db import session_factory
from threadline.core.processor import Tally
from threadline.daemon.cli.common import config_option, database, load
from threadline.daemon.logs import configure_logging


@click.command("process")
@click.option(
    "--until-idle",
    is_flag=True,
    help="Keep processing batches until none is due (default: one batch).",
)
@config_option
def process(until_idle: bool, config_path: Path | None) -> None:
    """Process due inbound items, then exit: after `threadline ingest`, after
    `threadline inbound retry`, or with the daemon stopped."""
    # Here, not at the top: every command imports this module, and `threadline ingest` (run by
    # an MTA for each mail) should not pay for importing the whole pipeline.
    from threadline.daemon.processing import processing

    settings = load(config_path)
    # Failures and parked items are logged as the daemon logs them, on stderr: stdout is the
    # summary.
    configure_logging(settings.logging, sys.stderr)
    with database(settings) as engine, processing(settings, session_factory(engine)) as processor:
        tally = processor.run_until_idle() if until_idle else processor.process(processor.claim())
    click.echo(_summary(tally))


def _summary(tally: Tally) -> str:
    return (
        f"processed {tally.total} inbound item{'' if tally.total == 1 else 's'}: "
        f"{tally.done} done, {tally.ignored} ignored, {tally.retrying} to retry later, "
        f"{tally.parked} parked"
    )
