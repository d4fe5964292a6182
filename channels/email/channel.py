"""The email channel as the daemon sees it: one descriptor.

Only what every command needs is imported here (the accept-time key, the settings); the parser
on its first mail, and the listener, the IMAP poller and the smarthost sender when
``threadline run`` builds them: ``threadline ingest``, run once per mail by an MTA, pays for
none of lxml, aiosmtpd, imapclient and smtplib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from threadline.channels.component import Service, StartupError
from threadline.channels.descriptor import Channel, ChannelContext, section
from threadline.channels.email import CHANNEL
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.email.settings import (
    EmailSettings,
    ImapSettings,
    SmarthostSettings,
    SmtpSettings,
)
from threadline.core.channel_traits import ChannelTraits
from threadline.core.normalized import Inbound
from threadline.core.senders import Sender

if TYPE_CHECKING:
    from threadline.channels.schedules import Job


def _parse(raw: bytes, meta: Mapping[str, Any]) -> Inbound:
    from threadline.channels.email.parser import parse

    return parse(raw, meta)


def _sender(context: ChannelContext) -> Sender:
    from threadline.channels.email.smarthost import EmailSender

    try:
        return EmailSender(
            context.sessions,
            context.signer,
            context.section(EmailSettings),
            context.section(SmarthostSettings),
        )
    except ValueError as error:
        raise StartupError(str(error)) from None


def _components(context: ChannelContext) -> Sequence[Service]:
    """The SMTP listener (unless ``smtp.enabled`` is false) and a runner per IMAP mailbox."""
    from threadline.channels.email.imap_runner import imap_runner
    from threadline.channels.email.listener import ListenerSetupError, MailListener
    from threadline.channels.email.smtp_component import SmtpListener

    components: list[Service] = []
    smtp = context.section(SmtpSettings)
    if smtp.enabled:
        try:
            listener = MailListener(context.intake, context.section(EmailSettings), smtp)
        except ListenerSetupError as error:
            raise StartupError(str(error)) from None
        components.append(SmtpListener(listener))
    mailboxes = context.section(ImapSettings).mailboxes
    components += [imap_runner(mailbox, context) for mailbox in mailboxes]
    return components


def _jobs(components: Sequence[Service]) -> Sequence[Job]:
    """Each mailbox's poll, on the daemon's scheduler."""
    from threadline.channels.email.imap_runner import ImapRunner

    return [runner.poll_job() for runner in components if isinstance(runner, ImapRunner)]


def _suppress_bounced_for(settings: BaseModel) -> timedelta:
    return timedelta(days=section(settings, EmailSettings).hard_bounce_suppression_days)


EMAIL = Channel(
    name=CHANNEL,
    parse=_parse,
    dedup_key=mail_dedup_key,
    sections={
        "email": EmailSettings,
        "smtp": SmtpSettings,
        "smarthost": SmarthostSettings,
        "imap": ImapSettings,
    },
    sender=_sender,
    components=_components,
    jobs=_jobs,
    traits=ChannelTraits(
        client_id_type="email",
        verifies_sender=False,
        agent_id_type="email",
        carries_notifications=True,
    ),
    suppress_bounced_for=_suppress_bounced_for,
)
