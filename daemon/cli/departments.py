"""``threadline departments add|list``: where tickets are routed and who works for each."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.departments import add_department, list_departments
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_list, format_option


@click.group("departments")
def departments() -> None:
    """Departments (Sales, Technical Support, ...)."""


@departments.command("add")
@click.argument("name")
@click.option("--description", default=None, help="What the department handles.")
@config_option
def departments_add(name: str, description: str | None, config_path: Path | None) -> None:
    """Add a department NAME (names are unique)."""
    with transaction(load(config_path)) as session:
        department = add_department(session, name, description)
    click.echo(f"added department {department.id}: {department.name}")


@departments.command("list")
@format_option
@config_option
def departments_list(output_format: str, config_path: Path | None) -> None:
    """List departments with how many agents work for each."""
    with transaction(load(config_path)) as session:
        found = list_departments(session)
    emit_list(
        found,
        output_format,
        ["ID", "NAME", "AGENTS", "DESCRIPTION"],
        lambda d: [d.id, d.name, d.agent_count, d.description],
        empty="no departments yet: add one with `threadline departments add NAME`",
    )
