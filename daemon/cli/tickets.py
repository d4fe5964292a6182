"""``threadline tickets list|show``: reading tickets without a help-desk front end."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from threadline.core.admin.tickets import MessageView, TicketDetail, list_tickets, show_ticket
from threadline.core.db import session_factory
from threadline.core.export import export_tickets
from threadline.core.models.tickets import TICKET_STATUSES
from threadline.daemon import channels
from threadline.daemon.cli.common import config_option, database, load, transaction
from threadline.daemon.cli.output import (
    cell_text,
    emit_json,
    emit_list,
    format_option,
    json_line,
    safe_text,
    timestamp,
)


@click.group("tickets")
def tickets() -> None:
    """Tickets and their conversations."""


@tickets.command("list")
@click.option("--status", type=click.Choice(TICKET_STATUSES), help="Only tickets in this status.")
@click.option("--client", "client_id", type=int, metavar="ID", help="Only this client's tickets.")
@click.option("--department", metavar="NAME", help="Only this department's tickets.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many."
)
@format_option
@config_option
def tickets_list(
    status: str | None,
    client_id: int | None,
    department: str | None,
    limit: int,
    output_format: str,
    config_path: Path | None,
) -> None:
    """List tickets, newest first."""
    with transaction(load(config_path)) as session:
        found = list_tickets(session, status, client_id, department, limit)
    emit_list(
        found,
        output_format,
        ["ID", "STATUS", "PRIORITY", "CLIENT", "DEPARTMENT", "UPDATED", "TITLE"],
        lambda t: [
            t.id,
            t.status,
            t.priority,
            t.client.name,
            t.department.name if t.department else None,
            t.updated_at,
            t.title,
        ],
        empty="no tickets match",
    )


@tickets.command("show")
@click.argument("ticket_id", type=int)
@click.option(
    "--full",
    is_flag=True,
    help="Each message's full text: the quotes, signature and forwarded mail it came with.",
)
@format_option
@config_option
def tickets_show(ticket_id: int, full: bool, output_format: str, config_path: Path | None) -> None:
    """Show ticket TICKET_ID with its messages in order; internal notes are marked."""
    with transaction(load(config_path)) as session:
        ticket = show_ticket(session, ticket_id)
    if output_format == "json":
        emit_json(ticket)
        return
    _print_ticket(ticket, full)


def _print_ticket(ticket: TicketDetail, full: bool) -> None:
    fields = [
        ("Ticket", f"#{ticket.id} {ticket.title}"),
        ("Status", ticket.status),
        ("Priority", ticket.priority),
        ("Client", f"{ticket.client.name} (client {ticket.client.id})"),
        ("Department", ticket.department.name if ticket.department else None),
        ("Assignees", ", ".join(user.name for user in ticket.assignees) or None),
        ("Tags", ", ".join(ticket.tags) or None),
        ("Created", ticket.created_at),
        ("Updated", ticket.updated_at),
        ("Closed", ticket.closed_at),
    ]
    if ticket.custom_fields:
        fields.append(("Fields", json.dumps(ticket.custom_fields, ensure_ascii=False)))
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        click.echo(f"{label.ljust(width)}  {cell_text(value)}")
    if not ticket.messages:
        click.echo("\n(no messages)")
    for message in ticket.messages:
        click.echo(f"\n{_message_heading(message)}")
        text = message.full_text if full else message.body
        for line in text.splitlines() or [""]:
            click.echo(f"    {safe_text(line)}".rstrip())


def _message_heading(message: MessageView) -> str:
    author = message.author_kind
    if message.author is not None:
        author += f" {message.author.name}"
    parts = [f"--- message {message.id}", timestamp(message.created_at), cell_text(author)]
    if message.channel:
        parts.append(f"via {message.channel}")
    if message.is_internal:
        parts.append("[internal note]")
    return "  ".join(parts)


@tickets.command("export")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Only tickets changed at or after this UTC time (incremental backups).",
)
@config_option
def tickets_export(since: datetime | None, config_path: Path | None) -> None:
    """Every ticket as one JSON line, with client, assignees, tags and messages (streams)."""
    settings = load(config_path)
    with database(settings) as engine, session_factory(engine)() as session:
        for document in export_tickets(session, channels.traits(), since):
            click.echo(json_line(document))
