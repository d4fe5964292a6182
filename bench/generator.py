"""A reproducible stream of support messages for the benchmarks.

The mix a help desk sees: new conversations from new and from known senders, replies that
thread by In-Reply-To/References, and replies that only carry the ``[#123]`` subject tag. Ticket
numbers for tags are predicted from the order of new conversations, which holds on a fresh
database processed in arrival order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from threadline.core.normalized import Inbound, SenderIdentity, ThreadHints

SUBJECTS = ("Printer on fire", "Invoice 2026-03", "Cannot log in", "Refund", "Delivery late")
BODY = (
    "Hello,\n\nI have a problem with my order and would like some help, please. "
    "It arrived yesterday and does not start.\n\nThanks,\n"
)


@dataclass(frozen=True)
class Mix:
    new_sender: float = 0.2
    known_sender: float = 0.2
    reply_by_reference: float = 0.4
    reply_by_tag: float = 0.2


@dataclass
class _Conversation:
    ticket_number: int
    sender: str
    subject: str
    ids: list[str]


def messages(count: int, seed: int = 7, mix: Mix | None = None) -> Iterator[Inbound]:
    mix = mix or Mix()
    rng = random.Random(seed)
    senders: list[str] = []
    conversations: list[_Conversation] = []
    for number in range(count):
        own_id = f"{number}.{seed}@bench.example"
        roll = rng.random()
        if not conversations or roll < mix.new_sender + mix.known_sender:
            if not senders or roll < mix.new_sender:
                senders.append(f"customer{len(senders)}@bench.example")
                sender = senders[-1]
            else:
                sender = rng.choice(senders)
            conversation = _Conversation(
                len(conversations) + 1, sender, f"{rng.choice(SUBJECTS)} #{number}", [own_id]
            )
            conversations.append(conversation)
            yield _mail(conversation.sender, own_id, conversation.subject)
            continue
        conversation = rng.choice(conversations[-500:])
        if roll < mix.new_sender + mix.known_sender + mix.reply_by_reference:
            yield _mail(
                conversation.sender,
                own_id,
                f"Re: {conversation.subject}",
                in_reply_to=(conversation.ids[-1],),
                references=tuple(conversation.ids[-5:]),
            )
        else:
            yield _mail(
                conversation.sender,
                own_id,
                f"Re: [#{conversation.ticket_number}] {conversation.subject}",
                subject_tag=conversation.ticket_number,
            )
        conversation.ids.append(own_id)


def _mail(
    sender: str,
    own_id: str,
    subject: str,
    *,
    in_reply_to: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    subject_tag: int | None = None,
) -> Inbound:
    return Inbound(
        channel="email",
        sender=SenderIdentity("email", sender, sender.split("@")[0].title()),
        subject=subject,
        reply_text=BODY + sender,
        full_text=BODY + sender,
        recipients=("support@desk.example",),
        receiving_address="support@desk.example",
        hints=ThreadHints(
            own_id=own_id,
            in_reply_to=in_reply_to,
            references=references,
            subject_tag=subject_tag,
        ),
    )
