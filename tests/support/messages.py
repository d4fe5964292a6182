"""Normalized messages for tests, written the way a channel parser would hand them over."""

from __future__ import annotations

from threadline.core.channel_traits import ChannelTraits
from threadline.core.normalized import Classification, Inbound, SenderIdentity, ThreadHints


def email(
    sender: str,
    own_id: str | None = None,
    *,
    subject: str = "Help",
    body: str = "Hello",
    in_reply_to: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    reply_token: str | None = None,
    referenced_tokens: tuple[str, ...] = (),
    subject_tag: int | None = None,
    classification: Classification = Classification.PERSONAL,
    to: str = "support@example.com",
) -> Inbound:
    return Inbound(
        channel="email",
        sender=SenderIdentity("email", sender),
        subject=subject,
        reply_text=body,
        full_text=body,
        recipients=(to,),
        receiving_address=to,
        hints=ThreadHints(
            own_id=own_id,
            in_reply_to=in_reply_to,
            references=references,
            reply_token=reply_token,
            referenced_tokens=referenced_tokens,
            subject_tag=subject_tag,
        ),
        classification=classification,
    )


WHATSAPP_TRAITS = ChannelTraits(client_id_type="whatsapp")
"""What core tests assume of the WhatsApp channel the builder below stands in for."""
SLACK_TRAITS = ChannelTraits(
    client_id_type="slack", verifies_sender=True, agent_id_type="slack", carries_notifications=True
)
"""What core tests assume of a Slack channel."""


def whatsapp(number: str, body: str, own_id: str) -> Inbound:
    return Inbound(
        channel="whatsapp",
        sender=SenderIdentity("whatsapp", number),
        reply_text=body,
        full_text=body,
        receiving_address="whatsapp:+14155550000",
        hints=ThreadHints(own_id=own_id, threadless=True),
    )
