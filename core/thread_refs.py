"""The thread keys the threader (``core/threader.py``) matches by, for one batch: the stored
``message_refs`` of the batch's keys, read in one query per channel, and the keys the batch's
own messages add, so that a reply finds a root that arrived earlier in the same batch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from threadline.core.batch_writes import BatchWrites
from threadline.core.models import MessageRef
from threadline.core.rows import RefClaim, RefRow

_REFS = select(
    MessageRef.external_id, MessageRef.ticket_id, MessageRef.message_id, MessageRef.delivery_id
).where(
    MessageRef.channel == bindparam("channel"),
    MessageRef.external_id.in_(bindparam("keys", expanding=True)),
)


class Ref(NamedTuple):
    external_id: str
    ticket_id: int
    message_id: int | None
    """None: the key is only referenced, no message of ours carries it as its own id."""
    delivery_id: str | None = None
    """That message's delivery id, where its channel gives one."""


class ThreadRefs:
    def __init__(self, session: Session, writes: BatchWrites, now: datetime) -> None:
        self._session = session
        self._writes = writes
        self._now = now
        self._refs: dict[tuple[str, str], Ref] = {}
        self._looked_up: set[tuple[str, str]] = set()

    def load(self, keys: set[tuple[str, str]]) -> None:
        """``keys``: (channel, external id) pairs."""
        keys -= self._looked_up
        if not keys:
            return
        self._looked_up |= keys
        connection = self._session.connection()
        for channel in {channel for channel, _key in keys}:
            wanted = [key for key_channel, key in keys if key_channel == channel]
            for ref in connection.execute(_REFS, {"channel": channel, "keys": wanted}):
                self._refs[(channel, ref.external_id)] = Ref(*ref)

    def ticket_ids(self) -> set[int]:
        """The tickets the refs met so far belong to."""
        return {ref.ticket_id for ref in self._refs.values()}

    def of(self, channel: str, keys: Iterable[str]) -> list[Ref]:
        """The refs stored or added for ``keys``, in their order."""
        keys = list(keys)
        self.load({(channel, key) for key in keys})
        return [ref for key in keys if (ref := self._refs.get((channel, key))) is not None]

    def add(
        self,
        channel: str,
        key: str,
        ticket_id: int,
        message_id: int | None,
        delivery_id: str | None = None,
        thread_key: str | None = None,
    ) -> None:
        self._refs[(channel, key)] = Ref(key, ticket_id, message_id, delivery_id)
        self._writes.ref(
            RefRow(channel, key, ticket_id, message_id, self._now, delivery_id, thread_key)
        )

    def claim(
        self,
        channel: str,
        key: str,
        message_id: int,
        delivery_id: str | None,
        thread_key: str | None,
    ) -> None:
        """A key stored as only referenced becomes the own id of ``message_id``; one that is
        another message's own id already (reused) stays that message's."""
        ref = self._refs[(channel, key)]
        if ref.message_id is None:
            self._refs[(channel, key)] = ref._replace(
                message_id=message_id, delivery_id=delivery_id
            )
            self._writes.claim(RefClaim(channel, key, message_id, delivery_id, thread_key))

    def merged(self, survivor_id: int, absorbed_ids: Iterable[int]) -> None:
        """After a merge: the absorbed tickets' refs are the survivor's."""
        absorbed = set(absorbed_ids)
        for key, ref in self._refs.items():
            if ref.ticket_id in absorbed:
                self._refs[key] = ref._replace(ticket_id=survivor_id)
