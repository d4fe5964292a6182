"""The one retry-delay rule: runners after a failed iteration, items and outbox rows after a
failed attempt all wait by it."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    maximum: float = 300.0
    factor: float = 2.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Equal jitter: half of each exponential step is fixed so the wait still grows, half is
        random so workers (or instances) failing on the same outage do not retry in lockstep."""
        step = min(self.maximum, self.initial * self.factor ** (max(failures, 1) - 1))
        return step / 2 + rng.uniform(0, step / 2)
