"""Agents and administrators: one per email address, each working for some departments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from threadline.core.admin.departments import departments_named
from threadline.core.admin.errors import Conflict, InvalidInput, NotFound
from threadline.core.admin.names import required_name
from threadline.core.cron import cron_expression
from threadline.core.db import upsert_insert
from threadline.core.digest import OFF
from threadline.core.external_ids import USER_EMAIL_TYPE, InvalidExternalId, normalize
from threadline.core.models import (
    AgentSettings,
    Department,
    User,
    UserOAuthAccount,
    user_departments,
)
from threadline.core.models.base import now_utc
from threadline.core.models.users import USER_TYPES
from threadline.core.schedule_settings import time_zone

DEFAULT = "default"


@dataclass(frozen=True)
class UserSummary:
    id: int
    name: str
    email: str
    type: str
    departments: tuple[str, ...]
    created_at: datetime


def add_user(
    session: Session,
    name: str,
    email: str,
    type: str = "agent",
    departments: Sequence[str] = (),
) -> UserSummary:
    """Agents are recognised by the From of their mail, so their email is stored the way a
    client's email id is: the same address written differently still finds them."""
    _check_type(type)
    name = required_name(name, "user")
    email = normalize("email", email, default_region="")
    existing = session.scalar(select(User).where(User.email == email))
    if existing is not None:
        raise Conflict(
            f"a user with email {email} already exists (user {existing.id}, {existing.name})"
        )
    found = departments_named(session, departments)
    user = User(name=name, email=email, type=type)
    session.add(user)
    session.flush()
    _join(session, user.id, found)
    return UserSummary(
        user.id, user.name, user.email, user.type, tuple(d.name for d in found), user.created_at
    )


def set_role(session: Session, email: str, role: str) -> User:
    _check_type(role)
    user = user_by_email(session, email)
    user.type = role
    return user


def set_departments(session: Session, email: str, names: Sequence[str]) -> list[str]:
    """The departments the user works for from now on (none: takes them out of all)."""
    user = user_by_email(session, email)
    found = departments_named(session, names)
    session.execute(delete(user_departments).where(user_departments.c.user_id == user.id))
    _join(session, user.id, found)
    return [department.name for department in found]


def _check_type(type: str) -> None:
    if type not in USER_TYPES:
        raise InvalidInput(f"unknown user type {type!r}; use one of {', '.join(USER_TYPES)}")


def _join(session: Session, user_id: int, departments: Sequence[Department]) -> None:
    if departments:
        session.execute(
            insert(user_departments),
            [{"user_id": user_id, "department_id": department.id} for department in departments],
        )


def list_users(session: Session) -> list[UserSummary]:
    memberships: dict[int, list[str]] = defaultdict(list)
    for user_id, department in session.execute(
        select(user_departments.c.user_id, Department.name)
        .join(Department, Department.id == user_departments.c.department_id)
        .order_by(Department.name)
    ):
        memberships[user_id].append(department)
    return [
        UserSummary(
            user.id, user.name, user.email, user.type, tuple(memberships[user.id]), user.created_at
        )
        for user in session.scalars(select(User).order_by(User.id))
    ]


def user_by_email(session: Session, email: str) -> User:
    """The user an operator names by address, written as they like (normalized as stored)."""
    address = normalize("email", email, default_region="")
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        raise NotFound(f"no user with email {address}; see `threadline users list`")
    return user


def save_agent_settings(session: Session, user_id: int, **values: object) -> None:
    """Set these of the user's ``agent_settings``, the row made on first use."""
    statement = upsert_insert(session)(AgentSettings).values(user_id=user_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"], set_={**values, "updated_at": now_utc()}
        )
    )


@dataclass(frozen=True)
class AgentSchedule:
    """Where and when an agent works; None: the desk's (``[digests]`` for the time zone and
    the digest, the ticket's calendar)."""

    time_zone: str | None = None
    calendar: str | None = None
    digest: str | None = None
    """A cron expression, or ``off``."""


def set_schedule(
    session: Session, email: str, changes: AgentSchedule, calendars: Collection[str]
) -> AgentSchedule:
    """Change what ``changes`` sets (``default``: back to the desk's); answers the schedule as
    it is now. ``calendars``: the configured ``[[calendars]]`` names, as a name not among them
    would count around the clock without a word."""
    user = user_by_email(session, email)
    checked = {
        name: _checked(name, value, calendars)
        for name, value in asdict(changes).items()
        if value is not None
    }
    if checked:
        save_agent_settings(session, user.id, **checked)
    row = session.get(AgentSettings, user.id, populate_existing=True)
    return AgentSchedule(row.time_zone, row.calendar, row.digest) if row else AgentSchedule()


def _checked(name: str, value: str, calendars: Collection[str]) -> str | None:
    if value == DEFAULT:
        return None
    try:
        if name == "time_zone":
            return time_zone(value)
        if name == "digest":
            return value if value == OFF else cron_expression(value)
    except ValueError as error:
        raise InvalidInput(f"{name.replace('_', ' ')}: {error}") from None
    if value not in calendars:
        configured = ", ".join(sorted(calendars)) or "none"
        raise InvalidInput(
            f"calendar: no [[calendars]] is named {value!r} (configured: {configured}); add it "
            "to the configuration first"
        )
    return value


def notify_by(session: Session, email: str, channel: str | None) -> User:
    """Where the user's notifications go from now on; None: back to ``[notifications]
    channel``. The caller checks that the channel exists and can carry them."""
    user = user_by_email(session, email)
    save_agent_settings(session, user.id, notification_channel=channel)
    return user


def link_account(session: Session, email: str, provider: str, account: str) -> User:
    """The user with ``email`` is the holder of ``account`` at ``provider`` (``slack``,
    ``TEAM:USER``): where the provider vouches for its senders, their messages are the agent's.
    Linking an account again to the same user changes nothing."""
    if provider == USER_EMAIL_TYPE:
        raise InvalidInput("a user's email is their own id already; link another provider")
    try:
        value = normalize(provider, account, default_region="")
    except InvalidExternalId as error:
        raise InvalidInput(str(error)) from None
    user = user_by_email(session, email)
    holder = session.scalar(
        select(UserOAuthAccount.user_id).where(
            UserOAuthAccount.provider == provider, UserOAuthAccount.provider_user_id == value
        )
    )
    if holder is None:
        session.add(UserOAuthAccount(user_id=user.id, provider=provider, provider_user_id=value))
    elif holder != user.id:
        raise Conflict(f"{provider} account {value} is linked to user {holder} already")
    return user
