"""Short commands at the top of an agent's reply (``#close``, ``#status``, ``#priority``,
``#assign``, ``#tag``, ``#escalate``, ``#note`` or ``note:``), applied to the ticket and removed
from what the client sees.

Only the leading lines count: a ``#hashtag`` in the body is text. A leading ``#word`` that is
no command (``#escalte``) holds the whole reply back as an internal note, so a misspelt command
never reaches the client. A command that cannot be applied, or a reply held back, leaves an
internal system note on the ticket saying why, and the agent is told where they work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from threadline.core.assignment_rules import active_agent
from threadline.core.batch_work import BatchWork
from threadline.core.db import upsert_insert
from threadline.core.escalation import Escalated, escalate
from threadline.core.lifecycle import agent_acted, set_status
from threadline.core.models import Tag, Ticket, User, ticket_assignments, ticket_tags
from threadline.core.models.tickets import TICKET_PRIORITIES, TICKET_STATUSES
from threadline.core.settings import AssignmentSettings, RoutingSettings

COMMANDS = ("close", "status", "priority", "assign", "tag", "escalate", "note")
_COMMAND_LINE = re.compile(
    r"^(?:#(?P<name>[a-z]+)\b|(?P<note>note):)[ \t]*(?P<argument>.*)$", re.IGNORECASE
)
"""``#close``, ``#assign grace@example.com``...; ``note: text`` is ``#note text``, the way
people write an aside in a chat."""


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


@dataclass(frozen=True)
class AgentReply:
    commands: tuple[Command, ...]
    text: str
    """The reply without its command lines: what is stored and delivered."""
    unknown: tuple[str, ...] = ()
    """Leading ``#words`` that are no command: the reply is held back, nothing applied."""

    @property
    def internal(self) -> bool:
        """``#note``, or an unknown command: the whole message is an internal note, never
        sent to the client."""
        return bool(self.unknown) or any(command.name == "note" for command in self.commands)


def parse_agent_reply(text: str) -> AgentReply:
    lines = text.splitlines()
    commands: list[Command] = []
    unknown: list[str] = []
    position = 0
    while position < len(lines):
        line = lines[position].strip()
        match = _COMMAND_LINE.match(line)
        if not line:
            position += 1
            continue
        if match is None:
            break
        name = (match["name"] or match["note"]).lower()
        if name in COMMANDS:
            commands.append(Command(name, match["argument"].strip()))
        else:
            unknown.append(f"#{name}")
        position += 1
    if unknown:
        return AgentReply((), text.strip(), tuple(unknown))
    body = "\n".join(lines[position:]).strip()
    note_text = " ".join(c.argument for c in commands if c.name == "note" and c.argument)
    if note_text:
        body = f"{note_text}\n\n{body}".strip()
    return AgentReply(tuple(commands), body)


@dataclass
class Applied:
    problems: list[str] = field(default_factory=list)
    """One line per command that could not be applied."""
    escalated: Escalated | None = None


@dataclass(frozen=True)
class Desk:
    """What the commands act with: who gives them, and the desk's assignment settings."""

    agent: str
    """The agent's address, as notes name them."""
    routing: RoutingSettings
    assignment: AssignmentSettings


def apply_commands(
    work: BatchWork, ticket: Ticket, commands: tuple[Command, ...], desk: Desk
) -> Applied:
    """Apply in order."""
    applied = Applied()
    for command in commands:
        problem = _apply(work, ticket, command, desk, applied)
        if problem:
            applied.problems.append(f"#{command.name} {command.argument}".strip() + f": {problem}")
    return applied


def _apply(
    work: BatchWork, ticket: Ticket, command: Command, desk: Desk, applied: Applied
) -> str | None:
    # #assign and #tag write rows referencing the ticket, which may be new in this batch.
    session, now = work.written(ticket.id), work.now
    argument = command.argument
    if command.name == "note":
        return None
    if command.name == "escalate":
        done = escalate(work, ticket, desk.agent, argument, desk.routing, desk.assignment)
        if isinstance(done, str):
            return done
        applied.escalated = done
        agent_acted(ticket, now)
    elif command.name == "close":
        set_status(ticket, "closed", now)
    elif command.name == "status":
        value = argument.lower().replace(" ", "_")
        if value not in TICKET_STATUSES:
            return f"unknown status; use one of {', '.join(TICKET_STATUSES)}"
        set_status(ticket, value, now)
    elif command.name == "priority":
        value = argument.lower()
        if value not in TICKET_PRIORITIES:
            return f"unknown priority; use one of {', '.join(TICKET_PRIORITIES)}"
        ticket.priority = value
    elif command.name == "assign":
        if session.scalar(select(User.id).where(User.email == argument.lower())) is None:
            return "no user with that email"
        user_id = active_agent(session, argument)
        if user_id is None:
            return "that agent is deactivated"
        _insert_ignore(session, ticket_assignments, ticket_id=ticket.id, user_id=user_id)
        work.tickets.assigned(ticket.id, user_id)
        agent_acted(ticket, now)
    elif command.name == "tag":
        name = argument.lower()
        if not name or len(name) > 100:
            return "a tag is 1 to 100 characters"
        _insert_ignore(session, Tag.__table__, name=name)  # type: ignore[arg-type]
        tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
        _insert_ignore(session, ticket_tags, ticket_id=ticket.id, tag_id=tag_id)
    ticket.updated_at = now
    return None


def _insert_ignore(session: Session, table: Table, **values: object) -> None:
    """Idempotent insert, safe against a concurrent twin (tags are shared by every ticket)."""
    session.execute(upsert_insert(session)(table).values(**values).on_conflict_do_nothing())
