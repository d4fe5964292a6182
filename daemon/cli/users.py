"""``threadline users add|list|link|notify|notify-types|schedule|deactivate|activate|
set-role|departments``: the agents and administrators who answer tickets."""

from __future__ import annotations

from pathlib import Path

import click

from threadline.core.admin.agents import (
    Desk,
    choose_types,
    deactivate,
    set_active,
)
from threadline.core.admin.users import (
    DEFAULT,
    AgentSchedule,
    add_user,
    link_account,
    list_users,
    notify_by,
    set_departments,
    set_role,
    set_schedule,
    user_by_email,
)
from threadline.core.models.base import now_utc
from threadline.core.models.users import USER_TYPES
from threadline.core.notification_types import TYPES
from threadline.daemon import channels
from threadline.daemon.cli.common import config_option, load, transaction
from threadline.daemon.cli.output import emit_list, format_option


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
    emit_list(
        found,
        output_format,
        ["ID", "TYPE", "NAME", "EMAIL", "DEPARTMENTS", "CREATED"],
        lambda u: [u.id, u.type, u.name, u.email, ", ".join(u.departments) or None, u.created_at],
        empty="no users yet: add one with `threadline users add NAME EMAIL`",
    )


@users.command("link")
@click.argument("email")
@click.argument("provider")
@click.argument("account")
@config_option
def users_link(email: str, provider: str, account: str, config_path: Path | None) -> None:
    """Link ACCOUNT at PROVIDER to the user with address EMAIL: `slack TEAM:USER` (the team and
    member ids Slack shows in a profile's menu). Their messages there are then the user's."""
    with transaction(load(config_path)) as session:
        user = link_account(session, email, provider, account)
    click.echo(f"user {user.id} is {provider} {account}")


DEFAULT_CHANNEL = "default"


def _notifying_channel(_ctx: click.Context, _param: click.Parameter, value: str) -> str | None:
    able = [c.name for c in channels.CHANNELS if c.traits.carries_notifications]
    if value == DEFAULT_CHANNEL:
        return None
    if value not in able:
        raise click.BadParameter(
            f"{value!r} is no channel that carries notifications; use one of "
            f"{', '.join([*able, DEFAULT_CHANNEL])}"
        )
    return value


@users.command("notify")
@click.argument("email")
@click.argument("channel", callback=_notifying_channel)
@config_option
def users_notify(email: str, channel: str | None, config_path: Path | None) -> None:
    """Send the notifications of the user with address EMAIL on CHANNEL ("default": the one
    [notifications] channel names). Without an id on it, they still go to the default."""
    with transaction(load(config_path)) as session:
        user = notify_by(session, email, channel)
    click.echo(f"user {user.id} is notified on {channel or 'the default channel'}")


@users.command("deactivate")
@click.argument("email")
@click.option(
    "--leave-unassigned",
    is_flag=True,
    help="Leave their open tickets unassigned instead of handing them on "
    "(default: [assignment] reassign_on_deactivate).",
)
@config_option
def users_deactivate(email: str, leave_unassigned: bool, config_path: Path | None) -> None:
    """Deactivate the agent with address EMAIL: no new assignments or notifications, and their
    open tickets go to colleagues by their department's strategy, each with a note."""
    settings = load(config_path)
    assignment = settings.assignment
    if leave_unassigned:
        assignment = assignment.model_copy(update={"reassign_on_deactivate": False})
    desk = Desk(settings.routing, assignment, settings.notifications, channels.traits())
    with transaction(settings) as session:
        handed = deactivate(session, email, desk, now_utc())
    click.echo(f"{email} deactivated")
    for each in handed:
        to = f"user {each.to}" if each.to is not None else "nobody"
        click.echo(f"  ticket {each.ticket_id}: now with {to}")


@users.command("activate")
@click.argument("email")
@config_option
def users_activate(email: str, config_path: Path | None) -> None:
    """Activate the agent with address EMAIL again."""
    with transaction(load(config_path)) as session:
        set_active(session, user_by_email(session, email), True)
    click.echo(f"{email} active")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(USER_TYPES))
@config_option
def users_set_role(email: str, role: str, config_path: Path | None) -> None:
    """Make the user with address EMAIL an agent or an administrator."""
    with transaction(load(config_path)) as session:
        set_role(session, email, role)
    click.echo(f"{email} is an {role}")


@users.command("departments")
@click.argument("email")
@click.argument("names", nargs=-1)
@config_option
def users_departments(email: str, names: tuple[str, ...], config_path: Path | None) -> None:
    """Set the departments the user with address EMAIL works for (none: no department)."""
    with transaction(load(config_path)) as session:
        found = set_departments(session, email, names)
    click.echo(f"{email} works for {', '.join(found) or 'no department'}")


@users.command("notify-types")
@click.argument("email")
@click.option("--on", "on", multiple=True, type=click.Choice(TYPES), help="Deliver this type.")
@click.option("--off", "off", multiple=True, type=click.Choice(TYPES), help="Do not deliver it.")
@click.option("--reset", is_flag=True, help="Back to [notifications] deliver for every type.")
@config_option
def users_notify_types(
    email: str, on: tuple[str, ...], off: tuple[str, ...], reset: bool, config_path: Path | None
) -> None:
    """Which notification types the agent with address EMAIL gets delivered, over
    [notifications] deliver; every type is still listed by `threadline notifications list`."""
    with transaction(load(config_path)) as session:
        chosen = choose_types(
            session, email, dict.fromkeys(on, True) | dict.fromkeys(off, False), reset
        )
    said = ", ".join(f"{kind} {'on' if wanted else 'off'}" for kind, wanted in chosen.items())
    click.echo(f"{email}: {said or 'as [notifications] deliver says'}")


@users.command("schedule")
@click.argument("email")
@click.option(
    "--time-zone",
    metavar="TZ",
    help=f"Where they work, an IANA name (Europe/Berlin); {DEFAULT}: back to [digests] time_zone.",
)
@click.option(
    "--calendar",
    metavar="NAME",
    help=f"The [[calendars]] their reminders wait for; {DEFAULT}: back to the ticket's.",
)
@click.option(
    "--digest",
    metavar="CRON|off",
    help=f'When their digest goes out, in their time zone ("0 8 * * mon-fri"); off: never; '
    f"{DEFAULT}: back to [digests] cron.",
)
@config_option
def users_schedule(
    email: str,
    time_zone: str | None,
    calendar: str | None,
    digest: str | None,
    config_path: Path | None,
) -> None:
    """Show, or change, the time zone, calendar and digest schedule of the user with address
    EMAIL."""
    settings = load(config_path)
    names = [each.name for each in settings.calendars]
    with transaction(settings) as session:
        now = set_schedule(session, email, AgentSchedule(time_zone, calendar, digest), names)
    shown = (
        ("time zone", now.time_zone, settings.digests.time_zone),
        ("calendar", now.calendar, "the ticket's"),
        ("digest", now.digest, settings.digests.cron),
    )
    said = "; ".join(f"{what}: {own or f'{desk} ({DEFAULT})'}" for what, own, desk in shown)
    click.echo(f"{email}: {said}")
