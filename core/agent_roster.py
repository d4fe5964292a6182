"""Every agent and their departments, read once per batch at the first question: identity
asks whether an address is an agent's, the fan-out whom to notify."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.external_ids import email_or_none
from threadline.core.models import User, user_departments

_AGENTS = select(User.id, User.email).where(User.type == "agent").order_by(User.id)
_MEMBERSHIPS = select(user_departments.c.user_id, user_departments.c.department_id)


@dataclass(frozen=True)
class AgentRoster:
    agents: list[tuple[int, str]]
    """(id, email) in id order."""
    addresses: frozenset[str]
    """Every agent's email, normalized as a sender's address is."""
    members: Mapping[int, frozenset[int]]
    """Department id -> its agents' ids."""

    def department_members(self, department_id: int | None) -> frozenset[int]:
        return self.members.get(department_id, frozenset()) if department_id else frozenset()


def agent_roster(work: BatchWork) -> AgentRoster:
    """The batch's one :class:`AgentRoster`."""
    return work.memo("agent_roster", _load)


def _load(session: Session) -> AgentRoster:
    connection = session.connection()
    agents = [(row.id, row.email) for row in connection.execute(_AGENTS)]
    addresses = {email_or_none(email) for _id, email in agents}
    members: dict[int, set[int]] = {}
    for user_id, department_id in connection.execute(_MEMBERSHIPS):
        members.setdefault(department_id, set()).add(user_id)
    return AgentRoster(
        agents,
        frozenset(address for address in addresses if address),
        {department: frozenset(users) for department, users in members.items()},
    )
