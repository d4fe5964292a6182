"""Entry point of the ``threadline`` console script.

Each command's module is imported only when that command runs: ``threadline ingest``, which an
MTA may start once per mail, need not load the daemon's HTTP server and migrations.
"""

from __future__ import annotations

import importlib

import click

from threadline.daemon.cli.errors import ThreadlineGroup

COMMANDS = {
    "attachments": "attachments",
    "check-config": "check_config",
    "clients": "clients",
    "db": "db",
    "departments": "departments",
    "inbound": "inbound",
    "ingest": "ingest",
    "notifications": "notifications",
    "outbox": "outbox",
    "process": "process",
    "retention": "retention",
    "run": "run",
    "tickets": "tickets",
    "users": "users",
}
"""Command name -> its module in ``daemon.cli``, which defines a function of the same name."""


class LazyGroup(ThreadlineGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        command: click.Command = getattr(
            importlib.import_module(f"threadline.daemon.cli.{module}"), module
        )
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="threadline")
def cli() -> None:
    """threadline: threads email, Slack and WhatsApp messages into support tickets."""


def main() -> None:
    cli()
