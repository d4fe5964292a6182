"""``threadline attachments list|release``: files the attachment policy held back."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.attachments import held_files, release
from threadline.core.models.base import now_utc
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_list, format_option


@click.group("attachments")
def attachments() -> None:
    """Files held back (quarantined) by the [attachments] policy."""


@attachments.command("list")
@click.option("--ticket", "ticket_id", type=int, help="Only this ticket's.")
@format_option
@config_option
def attachments_list(ticket_id: int | None, output_format: str, config_path: Path | None) -> None:
    """List the files held back, oldest first."""
    with transaction(load(config_path)) as session:
        found = held_files(session, ticket_id)
    emit_list(
        found,
        output_format,
        ["ID", "TICKET", "MESSAGE", "FILE", "TYPE", "BYTES", "WHY"],
        lambda f: [f.id, f.ticket_id, f.message_id, f.filename, f.content_type, f.size, f.reason],
        empty="no files are held back",
    )


@attachments.command("release")
@click.argument("attachment_id", type=int)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the file here, for the agent who asked for it.",
)
@config_option
def attachments_release(attachment_id: int, save: Path | None, config_path: Path | None) -> None:
    """Release file ATTACHMENT_ID: forwarded like any other from now on."""
    with transaction(load(config_path)) as session:
        filename, content = release(session, attachment_id, now_utc())
    if save is not None:
        save.write_bytes(content)
    where = f", saved to {save}" if save is not None else ""
    click.echo(f"attachment {attachment_id} ({filename}) released{where}")
