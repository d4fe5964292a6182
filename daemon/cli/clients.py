"""``threadline clients add|list|link``: the people who write in, and the ids they write from."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.clients import add_client, link_external_id, list_clients
from threadline.core.external_ids import SUPPORTED_TYPES
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_list, format_option

ID_TYPE = click.Choice(SUPPORTED_TYPES)


@click.group("clients")
def clients() -> None:
    """Clients and their external ids (email, phone, whatsapp, slack)."""


@clients.command("add")
@click.argument("name")
@click.option(
    "--external-id",
    "-e",
    "external_ids",
    type=(ID_TYPE, str),
    multiple=True,
    metavar="TYPE VALUE",
    help=f"An id the client writes from; TYPE is {', '.join(SUPPORTED_TYPES)} "
    "(repeatable, e.g. `-e email ada@example.com`).",
)
@config_option
def clients_add(
    name: str, external_ids: tuple[tuple[str, str], ...], config_path: Path | None
) -> None:
    """Add a client NAME, optionally with the ids they write from."""
    settings = load(config_path)
    with transaction(settings) as session:
        client = add_client(session, name, external_ids, settings.identity.default_region)
    ids = f" ({', '.join(map(str, client.external_ids))})" if client.external_ids else ""
    click.echo(f"added client {client.id}: {client.name}{ids}")


@clients.command("link")
@click.argument("client_id", type=int)
@click.argument("id_type", metavar="TYPE", type=ID_TYPE)
@click.argument("value")
@config_option
def clients_link(client_id: int, id_type: str, value: str, config_path: Path | None) -> None:
    """Link an external id (TYPE VALUE, normalized) to client CLIENT_ID."""
    settings = load(config_path)
    with transaction(settings) as session:
        linked = link_external_id(
            session, client_id, id_type, value, settings.identity.default_region
        )
    click.echo(f"linked {linked} to client {client_id}")


@clients.command("list")
@format_option
@config_option
def clients_list(output_format: str, config_path: Path | None) -> None:
    """List every client with their external ids."""
    with transaction(load(config_path)) as session:
        found = list_clients(session)
    emit_list(
        found,
        output_format,
        ["ID", "NAME", "EXTERNAL IDS", "CREATED"],
        lambda c: [c.id, c.name, ", ".join(map(str, c.external_ids)) or None, c.created_at],
        empty="no clients yet",
    )
