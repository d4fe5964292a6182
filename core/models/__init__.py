"""Every table threadline reads or writes: schema.md's support schema and the daemon's own."""

from core.models.base import Base
from core.models.clients import Client, ClientExternalId
from core.models.departments import Department, user_departments
from core.models.inbound import InboundItem
from core.models.keys import DaemonKey
from core.models.mail_state import MailboxState, Suppression
from core.models.messages import Attachment, Blob, Message, MessageRef
from core.models.notifications import Notification
from core.models.outbox import OutboxItem
from core.models.tickets import Tag, Ticket, ticket_assignments, ticket_tags
from core.models.users import User, UserOAuthAccount

__all__ = [
    "Attachment",
    "Base",
    "Blob",
    "Client",
    "ClientExternalId",
    "DaemonKey",
    "Department",
    "InboundItem",
    "MailboxState",
    "Message",
    "MessageRef",
    "Notification",
    "OutboxItem",
    "Suppression",
    "Tag",
    "Ticket",
    "User",
    "UserOAuthAccount",
    "ticket_assignments",
    "ticket_tags",
    "user_departments",
]
