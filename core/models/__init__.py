"""Every table threadline reads or writes: the support schema and the daemon's own."""

from threadline.core.models.base import Base
from threadline.core.models.channel_state import ChannelState, Suppression
from threadline.core.models.clients import Client, ClientExternalId
from threadline.core.models.departments import Department, user_departments
from threadline.core.models.inbound import InboundItem
from threadline.core.models.job_ticks import JobTick
from threadline.core.models.keys import DaemonKey
from threadline.core.models.messages import Attachment, Blob, Message, MessageRef, MessageText
from threadline.core.models.notifications import Notification
from threadline.core.models.outbox import DestinationPace, OutboxItem
from threadline.core.models.schedules import Reminder, SlaClock, SlaTicket, TicketTurn
from threadline.core.models.tickets import Tag, Ticket, ticket_assignments, ticket_tags
from threadline.core.models.users import AgentSettings, User, UserOAuthAccount

__all__ = [
    "AgentSettings",
    "Attachment",
    "Base",
    "Blob",
    "ChannelState",
    "Client",
    "ClientExternalId",
    "DaemonKey",
    "Department",
    "DestinationPace",
    "InboundItem",
    "JobTick",
    "Message",
    "MessageRef",
    "MessageText",
    "Notification",
    "OutboxItem",
    "Reminder",
    "SlaClock",
    "SlaTicket",
    "Suppression",
    "Tag",
    "Ticket",
    "TicketTurn",
    "User",
    "UserOAuthAccount",
    "ticket_assignments",
    "ticket_tags",
    "user_departments",
]
