"""How often one destination may be sent to, kept for all the daemons sharing the database:
Slack takes about a message a second per conversation, Twilio a number a second per WhatsApp
sender, and a pace kept per process would be exceeded by several processes together.

Each send takes a turn: one statement moves the destination's next free time on by the pace and
returns the turn, so two senders anywhere never get the same one. A turn further off than
``LONGEST_WAIT_S`` is not taken: the row is handed back (:class:`NotYet`), no try counted,
rather than hold a sending thread. Turns are Unix time, so the daemons' clocks must agree
(NTP) to within a fraction of the pace.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import case, select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import upsert_insert
from threadline.core.models import DestinationPace
from threadline.core.senders import NotYet

LONGEST_WAIT_S = 5.0
"""The longest a sending thread waits for its turn."""
_pace = DestinationPace.__table__


class SendPace:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._sleep = sleep

    def wait(self, destination: str, interval: float) -> None:
        """Returns at this send's turn: ``interval`` seconds after the turn before it, wherever
        that was taken. :class:`NotYet` when the turn is too far off to wait for."""
        now = self._clock()
        latest = now + LONGEST_WAIT_S
        with self._sessions.begin() as session:
            insert = upsert_insert(session)(DestinationPace)
            taken = session.execute(
                insert.values(destination=destination, next_at=now + interval)
                .on_conflict_do_update(
                    index_elements=["destination"],
                    set_={
                        "next_at": case((_pace.c.next_at > now, _pace.c.next_at), else_=now)
                        + interval
                    },
                    where=_pace.c.next_at <= latest,
                )
                .returning(_pace.c.next_at)
            ).scalar_one_or_none()
            if taken is None:
                free = session.scalar(
                    select(_pace.c.next_at).where(_pace.c.destination == destination)
                )
                raise NotYet(max((free or latest) - latest, interval))
        delay = taken - interval - self._clock()
        if delay > 0:
            self._sleep(delay)
