"""What one client may take of the SMTP/LMTP listener, so that a host that opens connections
and sits on them (or floods us with mail) cannot deny the service to the servers that deliver
real mail: connections at once, in all and per client address, and mail transactions per
minute per address. Every refusal is temporary (``421``, ``451``): a real server that hits a
limit keeps its mail and tries again later."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

WINDOW_S = 60.0
MAX_TRACKED = 10_000
"""Client addresses whose transactions are remembered before the quiet ones are forgotten."""
BUSY = "421 4.7.0 Too many connections, try again later"
CLIENT_BUSY = "421 4.7.0 Too many connections from your address, try again later"
CLIENT_FAST = "451 4.7.1 Too many messages from your address, try again later"


class ConnectionLimits:
    """Counts kept on the event loop (never touched from another thread)."""

    def __init__(
        self,
        total: int,
        per_client: int,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``per_minute`` 0: no limit on transactions."""
        self._total, self._per_client, self._per_minute = total, per_client, per_minute
        self._clock = clock
        self._open: Counter[str] = Counter()
        self._started: dict[str, deque[float]] = {}

    def admit(self, client: str) -> str | None:
        """Counts the connection in, or answers the reply that turns it away."""
        if self._open.total() >= self._total:
            return BUSY
        if self._open[client] >= self._per_client:
            return CLIENT_BUSY
        self._open[client] += 1
        return None

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def transaction(self, client: str) -> str | None:
        """Counts a ``MAIL FROM`` in, or answers the reply that refuses it."""
        if not self._per_minute:
            return None
        now = self._clock()
        started = self._started.setdefault(client, deque(maxlen=self._per_minute))
        if len(started) == self._per_minute and now - started[0] < WINDOW_S:
            return CLIENT_FAST
        started.append(now)
        if len(self._started) > MAX_TRACKED:
            self._forget_quiet(now)
        return None

    def _forget_quiet(self, now: float) -> None:
        for client in [c for c, times in self._started.items() if now - times[-1] >= WINDOW_S]:
            del self._started[client]
