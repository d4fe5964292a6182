"""``threadline outbox list|show|retry``: what the daemon sends, and parked rows sent again."""

from __future__ import annotations

import json
from pathlib import Path

import click

from threadline.core.admin.outbox import (
    OutboxDetail,
    list_outbox,
    retry_all_parked,
    retry_outbox,
    show_outbox,
)
from threadline.core.models.base import now_utc
from threadline.core.models.outbox import OUTBOX_STATUSES
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import (
    cell_text,
    emit_json,
    emit_list,
    format_option,
    safe_text,
)


@click.group("outbox")
def outbox() -> None:
    """Replies and notifications waiting to leave, sent, or parked."""


@outbox.command("list")
@click.option("--status", type=click.Choice(OUTBOX_STATUSES), help="Only rows in this status.")
@click.option("--parked", is_flag=True, help="Only parked rows (same as --status parked).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@format_option
@config_option
def outbox_list(
    status: str | None, parked: bool, limit: int, output_format: str, config_path: Path | None
) -> None:
    """List outbox rows, newest first."""
    if parked and status not in (None, "parked"):
        raise click.UsageError("--parked and --status contradict each other; give one")
    with transaction(load(config_path)) as session:
        found = list_outbox(session, "parked" if parked else status, limit)
    emit_list(
        found,
        output_format,
        [
            "ID",
            "STATUS",
            "DELIVERY",
            "CHANNEL",
            "KIND",
            "RECIPIENT",
            "TICKET",
            "TRIES",
            "NEXT TRY",
            "ERROR",
        ],
        lambda row: [
            row.id,
            row.status,
            row.delivery_status,
            row.channel,
            row.kind,
            row.recipient,
            row.ticket_id,
            row.attempts,
            row.next_attempt_at,
            row.last_error,
        ],
        empty="no outbox rows match",
    )


@outbox.command("show")
@click.argument("outbox_id", type=int)
@format_option
@config_option
def outbox_show(outbox_id: int, output_format: str, config_path: Path | None) -> None:
    """Show outbox row OUTBOX_ID with its payload and its last error."""
    with transaction(load(config_path)) as session:
        row = show_outbox(session, outbox_id)
    if output_format == "json":
        emit_json(row)
        return
    _print_row(row)


@outbox.command("retry")
@click.argument("outbox_id", type=int, required=False)
@click.option("--all-parked", is_flag=True, help="Every parked row instead of one.")
@config_option
def outbox_retry(outbox_id: int | None, all_parked: bool, config_path: Path | None) -> None:
    """Send row OUTBOX_ID (parked, or pending and waiting) again now, with fresh tries."""
    if (outbox_id is None) == (not all_parked):
        raise click.UsageError("give either an outbox row ID or --all-parked")
    with transaction(load(config_path)) as session:
        if outbox_id is not None:
            retry_outbox(session, outbox_id, now_utc())
            done = f"outbox row {outbox_id} back in line"
        else:
            count = retry_all_parked(session, now_utc())
            done = f"{count} parked row{'s' if count != 1 else ''} back in line"
    click.echo(done)


def _print_row(row: OutboxDetail) -> None:
    fields = [
        ("Outbox", f"#{row.id} {row.kind} via {row.channel}"),
        ("Recipient", row.recipient),
        ("Status", f"{row.status} (delivery: {row.delivery_status})"),
        ("Ticket", row.ticket_id),
        ("Message", row.message_id),
        ("Key", row.idempotency_key),
        ("Tries", row.attempts),
        ("Next try", row.next_attempt_at),
        ("Leased to", _lease(row)),
        ("Provider id", row.provider_id),
        ("Sent", row.sent_at),
        ("Created", row.created_at),
        ("Updated", row.updated_at),
        ("Last error", row.last_error),
    ]
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        click.echo(f"{label.ljust(width)}  {cell_text(value)}")
    click.echo("\nPayload:")
    for line in json.dumps(row.payload, indent=2, ensure_ascii=False).splitlines():
        click.echo(f"    {safe_text(line)}")


def _lease(row: OutboxDetail) -> str | None:
    if row.lease_owner is None:
        return None
    return f"{row.lease_owner} until {cell_text(row.lease_expires_at)}"
