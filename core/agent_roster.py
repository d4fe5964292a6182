"""Every agent, their departments, whether they are active and which notification types they
want, read once per batch at the first question: identity asks whether an address is an
agent's, the fan-out whom to notify and how."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.external_ids import email_or_none
from threadline.core.models import AgentSettings, User, user_departments
from threadline.core.notification_types import ALWAYS_DELIVERED

_AGENTS = (
    select(User.id, User.email, AgentSettings.active, AgentSettings.notification_types)
    .outerjoin(AgentSettings, AgentSettings.user_id == User.id)
    .where(User.type == "agent")
    .order_by(User.id)
)
_MEMBERSHIPS = select(user_departments.c.user_id, user_departments.c.department_id)


@dataclass(frozen=True)
class AgentRoster:
    agents: list[tuple[int, str]]
    """(id, email) of the active agents, in id order."""
    addresses: frozenset[str]
    """Every agent's email, active or not, normalized as a sender's address is: a deactivated
    agent writing in is still no client."""
    members: Mapping[int, frozenset[int]]
    """Department id -> its active agents' ids."""
    choices: Mapping[int, Mapping[str, Any]]
    """Agent id -> their own notification types (type -> deliver or not)."""

    def department_members(self, department_id: int | None) -> frozenset[int]:
        return self.members.get(department_id, frozenset()) if department_id else frozenset()

    def active(self, user_ids: Collection[int]) -> list[tuple[int, str]]:
        """The active agents among ``user_ids``, in id order."""
        return [agent for agent in self.agents if agent[0] in user_ids]

    def delivers(self, user_id: int, kind: str, defaults: Collection[str]) -> bool:
        if kind in ALWAYS_DELIVERED:
            return True
        chosen = self.choices.get(user_id, {}).get(kind)
        return bool(chosen) if chosen is not None else kind in defaults


def agent_roster(work: BatchWork) -> AgentRoster:
    """The batch's one :class:`AgentRoster`."""
    return work.memo("agent_roster", load_roster)


def load_roster(session: Session) -> AgentRoster:
    connection = session.connection()
    agents, addresses, choices = [], set(), {}
    for user_id, email, active, types in connection.execute(_AGENTS):
        addresses.add(email_or_none(email))
        if active is not False:
            agents.append((user_id, email))
            if types:
                choices[user_id] = types
    working = {user_id for user_id, _email in agents}
    members: dict[int, set[int]] = {}
    for user_id, department_id in connection.execute(_MEMBERSHIPS):
        if user_id in working:
            members.setdefault(department_id, set()).add(user_id)
    return AgentRoster(
        agents,
        frozenset(address for address in addresses if address),
        {department: frozenset(users) for department, users in members.items()},
        choices,
    )
