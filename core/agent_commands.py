"""Short commands at the top of an agent's reply (``#close``, ``#status``, ``#priority``,
``#assign``, ``#tag``, ``#note`` or ``note:``), applied to the ticket and removed from what the
client sees.

Only the leading lines count, and only known command words: a ``#hashtag`` in the body is
text. A command that cannot be applied leaves an internal system note on the ticket saying why,
so the agent learns of it where they work instead of in a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.db import upsert_insert
from threadline.core.lifecycle import set_status
from threadline.core.models import Tag, Ticket, User, ticket_assignments, ticket_tags
from threadline.core.models.tickets import TICKET_PRIORITIES, TICKET_STATUSES

COMMANDS = ("close", "status", "priority", "assign", "tag", "note")
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

    @property
    def internal(self) -> bool:
        """``#note``: the whole message is an internal note, never sent to the client."""
        return any(command.name == "note" for command in self.commands)


def parse_agent_reply(text: str) -> AgentReply:
    lines = text.splitlines()
    commands: list[Command] = []
    position = 0
    while position < len(lines):
        line = lines[position].strip()
        match = _COMMAND_LINE.match(line)
        if not line:
            position += 1
            continue
        name = match and (match["name"] or match["note"]).lower()
        if name not in COMMANDS:
            break
        commands.append(Command(name, match["argument"].strip()))
        position += 1
    body = "\n".join(lines[position:]).strip()
    note_text = " ".join(c.argument for c in commands if c.name == "note" and c.argument)
    if note_text:
        body = f"{note_text}\n\n{body}".strip()
    return AgentReply(tuple(commands), body)


def apply_commands(work: BatchWork, ticket: Ticket, commands: tuple[Command, ...]) -> list[str]:
    """Apply in order; answers one line per command that could not be applied."""
    problems = []
    for command in commands:
        problem = _apply(work, ticket, command)
        if problem:
            problems.append(f"#{command.name} {command.argument}".strip() + f": {problem}")
    return problems


def _apply(work: BatchWork, ticket: Ticket, command: Command) -> str | None:
    # #assign and #tag write rows referencing the ticket, which may be new in this batch.
    session, now = work.written(ticket.id), work.now
    argument = command.argument
    if command.name == "note":
        return None
    if command.name == "close":
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
        user_id = session.scalar(select(User.id).where(User.email == argument.lower()))
        if user_id is None:
            return "no user with that email"
        _insert_ignore(session, ticket_assignments, ticket_id=ticket.id, user_id=user_id)
        work.tickets.assigned(ticket.id, user_id)
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
