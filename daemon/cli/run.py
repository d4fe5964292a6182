"""``threadline run``: the daemon itself, in the foreground, as systemd expects it."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

import click
import structlog

from threadline.daemon.cli.common import config_option, load
from threadline.daemon.supervisor import Supervisor
from threadline.daemon.wiring import assemble

EXIT_GRACE_S = 5.0
"""After the drain, how long worker threads still blocked in I/O may delay the exit."""


@click.command("run")
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon until SIGTERM or SIGINT; SIGHUP reloads the log level."""
    settings = load(config_path)
    supervisor = Supervisor(settings, config_path, assemble)
    asyncio.run(_supervise(supervisor))


async def _supervise(supervisor: Supervisor) -> None:
    await supervisor.run()
    # asyncio.run() and then the interpreter join every worker thread, and a thread cannot be
    # cancelled: one stuck in a network call would hold the exit past the shutdown timeout.
    deadline = threading.Timer(EXIT_GRACE_S, _exit_without_workers)
    deadline.daemon = True
    deadline.start()


def _exit_without_workers() -> None:
    busy = [
        thread.name
        for thread in threading.enumerate()
        if not thread.daemon and thread is not threading.main_thread()
    ]
    structlog.get_logger(__name__).warning(
        "worker threads still busy after shutdown, exiting without them",
        threads=busy,
        grace_seconds=EXIT_GRACE_S,
    )
    logging.shutdown()
    os._exit(0)
