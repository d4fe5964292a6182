"""``threadline users add|list``: the agents and administrators who answer tickets."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.users import add_user, list_users
from threadline.core.models.users import USER_TYPES
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_json, emit_table, format_option


@click.group("users")
def users() -> None:
    """Agents and administrators."""


@users.command("add")
@click.argument("name")
@click.argument("email")
@click.option(
    "--type",
    "user_type",
    type=click.Choice(USER_TYPES),
    default="agent",
    show_default=True,
    help="administrator or agent.",
)
@click.option(
    "--department",
    "departments",
    multiple=True,
    metavar="NAME",
    help="A department the user works for (repeatable; it must exist).",
)
@config_option
def users_add(
    name: str,
    email: str,
    user_type: str,
    departments: tuple[str, ...],
    config_path: Path | None,
) -> None:
    """Add a user NAME with address EMAIL (agents are recognised by it)."""
    with transaction(load(config_path)) as session:
        user = add_user(session, name, email, user_type, departments)
    where = f" in {', '.join(user.departments)}" if user.departments else ""
    click.echo(f"added {user.type} {user.id}: {user.name} <{user.email}>{where}")


@users.command("list")
@format_option
@config_option
def users_list(output_format: str, config_path: Path | None) -> None:
    """List every user."""
    with transaction(load(config_path)) as session:
        found = list_users(session)
    if output_format == "json":
        emit_json(found)
        return
    emit_table(
        ["ID", "TYPE", "NAME", "EMAIL", "DEPARTMENTS", "CREATED"],
        (
            [u.id, u.type, u.name, u.email, ", ".join(u.departments) or None, u.created_at]
            for u in found
        ),
        empty="no users yet: add one with `threadline users add NAME EMAIL`",
    )
