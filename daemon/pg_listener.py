"""Work committed by any daemon sharing a PostgreSQL database wakes this one within
milliseconds: the queues ``NOTIFY`` at commit, this component ``LISTEN``s and wakes the hub.

It holds a connection of its own, outside the pool, in autocommit (a notification is delivered
between transactions). A lost connection is opened again with backoff; meanwhile the runners'
sweeps still find the work, only later, and the component shows as failing.
"""

from __future__ import annotations

import asyncio
import random
import threading

import psycopg
import structlog
from sqlalchemy.engine import URL

from threadline.channels.component import State, describe_error
from threadline.core.backoff import Backoff
from threadline.core.dbapi import POSTGRESQL_CONNECT_TIMEOUT_S
from threadline.core.leased_queue import channel_of
from threadline.core.models import InboundItem, OutboxItem
from threadline.daemon.wake_hub import Topic, WakeHub

NAME = "notifications"
POLL_S = 0.5
"""How often the listening thread looks whether it should stop."""
CHANNELS = {
    channel_of(InboundItem.__table__): Topic.INTAKE,
    channel_of(OutboxItem.__table__): Topic.OUTBOX,
}

RECONNECT = Backoff(initial=1.0, maximum=60.0)

_log = structlog.get_logger(__name__)


class NotificationListener:
    def __init__(self, url: URL, hub: WakeHub, backoff: Backoff = RECONNECT) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._hub = hub
        self._backoff = backoff
        self.name = NAME
        self.state = State.STARTING
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Returns once listening (or failing to): a commit after the start is never missed
        while the connection holds."""
        self._thread = asyncio.get_running_loop().run_in_executor(None, self._listen)
        await asyncio.to_thread(self._listening.wait, POSTGRESQL_CONNECT_TIMEOUT_S)

    async def close(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.wait([self._thread], timeout=timeout)
        self.state = State.STOPPED

    def _listen(self) -> None:
        failures = 0
        rng = random.Random()
        while not self._stop.is_set():
            try:
                self._serve()
            except psycopg.Error as error:
                failures += 1
                self.state = State.FAILING
                self.last_error = describe_error(error)
                self._listening.set()
                _log.warning("listening for notifications failed", error=self.last_error)
                self._stop.wait(self._backoff.delay(failures, rng))
            else:
                return

    def _serve(self) -> None:
        with psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=int(POSTGRESQL_CONNECT_TIMEOUT_S)
        ) as connection:
            for channel in CHANNELS:
                connection.execute(f"LISTEN {channel}")
            self.state, self.last_error = State.IDLE, None
            self._listening.set()
            # Work committed while not listening was found by no notification: look now.
            for topic in CHANNELS.values():
                self._hub.wake(topic)
            while not self._stop.is_set():
                for notification in connection.notifies(timeout=POLL_S):
                    self._hub.wake(CHANNELS[notification.channel])
