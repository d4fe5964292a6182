"""``threadline inbound list|show|retry``: the intake queue, and putting parked items back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from threadline.core.admin.inbound import (
    HEAD_BYTES,
    InboundDetail,
    list_inbound,
    retry_all_parked,
    retry_inbound,
    show_inbound,
)
from threadline.core.models.base import now_utc
from threadline.core.models.inbound import INBOUND_STATUSES
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import cell_text, emit_json, emit_list, format_option, safe_text

RETRY_HINT = (
    "a running daemon picks it up within intake.sweep_interval, "
    "or run `threadline process --until-idle`"
)


@click.group("inbound")
def inbound() -> None:
    """Inbound items: waiting, handled, or parked."""


@inbound.command("list")
@click.option("--status", type=click.Choice(INBOUND_STATUSES), help="Only items in this status.")
@click.option("--parked", is_flag=True, help="Only parked items (same as --status parked).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@format_option
@config_option
def inbound_list(
    status: str | None,
    parked: bool,
    limit: int,
    output_format: str,
    config_path: Path | None,
) -> None:
    """List inbound items, newest first."""
    if parked and status not in (None, "parked"):
        raise click.UsageError(f"--parked contradicts --status {status}")
    with transaction(load(config_path)) as session:
        found = list_inbound(session, "parked" if parked else status, limit)
    emit_list(
        found,
        output_format,
        ["ID", "CHANNEL", "STATUS", "ATTEMPTS", "SIZE", "RECEIVED", "NEXT ATTEMPT", "ERROR"],
        lambda i: [
            i.id,
            i.channel,
            i.status,
            i.attempts,
            i.size,
            i.created_at,
            i.next_attempt_at,
            i.last_error,
        ],
        empty="no inbound items match",
    )


@inbound.command("show")
@click.argument("item_id", type=int)
@format_option
@config_option
def inbound_show(item_id: int, output_format: str, config_path: Path | None) -> None:
    """Show inbound item ITEM_ID: its state, its last error and the start of its raw bytes."""
    with transaction(load(config_path)) as session:
        item = show_inbound(session, item_id)
    if output_format == "json":
        emit_json(item)
        return
    _print_item(item)


@inbound.command("retry")
@click.argument("item_id", type=int, required=False)
@click.option("--all-parked", is_flag=True, help="Every parked item instead of one.")
@config_option
def inbound_retry(item_id: int | None, all_parked: bool, config_path: Path | None) -> None:
    """Put parked item ITEM_ID (or --all-parked) back in the queue with fresh attempts."""
    if (item_id is None) == (not all_parked):
        raise click.UsageError("give one ITEM_ID or --all-parked")
    with transaction(load(config_path)) as session:
        if item_id is None:
            count = retry_all_parked(session, now_utc())
        else:
            retry_inbound(session, item_id, now_utc())
    if item_id is not None:
        click.echo(f"queued item {item_id} for retry: {RETRY_HINT}")
    elif count:
        click.echo(f"queued {count} parked item{'' if count == 1 else 's'} for retry: {RETRY_HINT}")
    else:
        click.echo("no parked items to retry")


def _print_item(item: InboundDetail) -> None:
    fields = [
        ("channel", item.channel),
        ("dedup key", item.dedup_key),
        ("status", item.status),
        ("attempts", item.attempts),
        ("next attempt", item.next_attempt_at),
        ("last error", item.last_error),
        ("message", item.message_id),
        ("lease", _lease(item)),
        ("received", item.created_at),
        ("updated", item.updated_at),
        ("meta", json.dumps(item.meta, ensure_ascii=False) if item.meta else None),
        ("size", f"{item.size} bytes"),
    ]
    click.echo(f"inbound item {item.id}")
    for label, value in fields:
        click.echo(f"  {label + ':':<14}{cell_text(value)}")
    shown = "whole" if item.size <= HEAD_BYTES else f"first {HEAD_BYTES} of {item.size} bytes"
    click.echo(f"--- raw ({shown}) ---")
    click.echo(safe_text(item.head.replace("\r\n", "\n").removesuffix("\n")))


def _lease(item: InboundDetail) -> str | None:
    if item.lease_owner is None:
        return None
    return f"{item.lease_owner} until {cell_text(item.lease_expires_at)}"
