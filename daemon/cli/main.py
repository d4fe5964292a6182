"""Entry point of the ``threadline`` console script."""

from __future__ import annotations

import click

from daemon.cli.check_config import check_config
from daemon.cli.clients import clients
from daemon.cli.db import db
from daemon.cli.departments import departments
from daemon.cli.errors import ThreadlineGroup
from daemon.cli.inbound import inbound
from daemon.cli.ingest import ingest
from daemon.cli.outbox import outbox
from daemon.cli.process import process
from daemon.cli.run import run
from daemon.cli.tickets import tickets
from daemon.cli.users import users


@click.group(cls=ThreadlineGroup)
@click.version_option(package_name="threadline")
def cli() -> None:
    """threadline: threads email, Slack and WhatsApp messages into support tickets."""


cli.add_command(check_config)
cli.add_command(clients)
cli.add_command(db)
cli.add_command(departments)
cli.add_command(inbound)
cli.add_command(ingest)
cli.add_command(outbox)
cli.add_command(process)
cli.add_command(run)
cli.add_command(tickets)
cli.add_command(users)


def main() -> None:
    cli()
