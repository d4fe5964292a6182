"""Where an agent's notification goes: the channel they chose (``agent_settings``), else
``[notifications] channel``, at their own id on it (``users.email`` on a channel whose agents
are known by email, their linked account at the channel's provider on others).

An agent who chose a channel they have no id on (no linked account) is notified on the
default channel instead, so a choice can never silence them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from threadline.core.batch_work import BatchWork
from threadline.core.channel_traits import ChannelTraits, traits_of
from threadline.core.external_ids import USER_EMAIL_TYPE
from threadline.core.models import AgentSettings, UserOAuthAccount

_CHOICES = select(AgentSettings.user_id, AgentSettings.notification_channel).where(
    AgentSettings.notification_channel.is_not(None)
)
_ACCOUNTS = select(
    UserOAuthAccount.provider, UserOAuthAccount.user_id, UserOAuthAccount.provider_user_id
).order_by(UserOAuthAccount.id)


class AgentAddresses:
    """Reads what it needs once per batch, and answers each agent once: one per batch, kept by
    the batch's unit of work (:func:`agent_addresses`)."""

    def __init__(
        self,
        work: BatchWork,
        settings_channel: str,
        traits: Mapping[str, ChannelTraits],
    ) -> None:
        self._work = work
        self._default = settings_channel
        self._traits = traits
        self._answers: dict[int, tuple[str, str] | None] = {}

    def of(self, user_id: int, email: str) -> tuple[str, str] | None:
        """(channel, recipient) of the agent's notifications; None: nowhere to send them."""
        if user_id not in self._answers:
            self._answers[user_id] = self._destination(user_id, email)
        return self._answers[user_id]

    def _destination(self, user_id: int, email: str) -> tuple[str, str] | None:
        chosen = self._choices().get(user_id)
        for channel in dict.fromkeys((chosen or self._default, self._default)):
            recipient = self._address(channel, user_id, email)
            if recipient is not None:
                return channel, recipient
        return None

    def _address(self, channel: str, user_id: int, email: str) -> str | None:
        traits = traits_of(self._traits, channel)
        if not traits.carries_notifications or traits.agent_id_type is None:
            return None
        if traits.agent_id_type == USER_EMAIL_TYPE:
            return email
        return self._accounts().get((traits.agent_id_type, user_id))

    def _choices(self) -> dict[int, str]:
        return self._work.memo("agent_notification_channels", _choices)

    def _accounts(self) -> dict[tuple[str, int], str]:
        return self._work.memo("agent_accounts", _first_accounts)


def agent_addresses(
    work: BatchWork, settings_channel: str, traits: Mapping[str, ChannelTraits]
) -> AgentAddresses:
    """The batch's one :class:`AgentAddresses`."""
    return work.memo(
        "agent_addresses", lambda _session: AgentAddresses(work, settings_channel, traits)
    )


def _choices(session: Session) -> dict[int, str]:
    return dict(session.connection().execute(_CHOICES).all())


def _first_accounts(session: Session) -> dict[tuple[str, int], str]:
    """An agent's first linked account per provider."""
    accounts: dict[tuple[str, int], str] = {}
    for provider, user_id, account in session.connection().execute(_ACCOUNTS):
        accounts.setdefault((provider, user_id), account)
    return accounts
