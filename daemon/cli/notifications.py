"""``threadline notifications list|read``: what agents were told, and marking it read."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.notifications import list_notifications, read_all, read_notification
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_list, format_option


@click.group("notifications")
def notifications() -> None:
    """What agents were told: new tickets, replies, assignments, escalations..."""


@notifications.command("list")
@click.option("--user", "email", metavar="EMAIL", help="Only this agent's.")
@click.option("--unread", is_flag=True, help="Only those not read yet.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many."
)
@format_option
@config_option
def notifications_list(
    email: str | None, unread: bool, limit: int, output_format: str, config_path: Path | None
) -> None:
    """List notifications, newest first."""
    with transaction(load(config_path)) as session:
        found = list_notifications(session, email, unread, limit)
    emit_list(
        found,
        output_format,
        ["ID", "USER", "TICKET", "TYPE", "READ", "CREATED", "CONTENT"],
        lambda n: [
            n.id,
            n.user,
            n.ticket_id,
            n.type,
            "yes" if n.is_read else "no",
            n.created_at,
            n.content,
        ],
        empty="no notifications match",
    )


@notifications.command("read")
@click.argument("notification_id", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Every unread one (of --user) instead.")
@click.option("--user", "email", metavar="EMAIL", help="With --all: only this agent's.")
@config_option
def notifications_read(
    notification_id: int | None, every: bool, email: str | None, config_path: Path | None
) -> None:
    """Mark notification NOTIFICATION_ID read, or --all of them."""
    if (notification_id is None) == (not every):
        raise click.UsageError("give either a notification ID or --all")
    with transaction(load(config_path)) as session:
        if notification_id is not None:
            read_notification(session, notification_id)
            done = f"notification {notification_id} read"
        else:
            count = read_all(session, email)
            done = f"{count} notification{'s' if count != 1 else ''} read"
    click.echo(done)
