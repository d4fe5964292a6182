"""Business time: the hours a desk works, in its own time zone, without its holidays.

An SLA target of 60 minutes means 60 minutes of these hours: a message at Friday 16:30 with
hours until 17:00 is due Monday 09:30, not Friday 17:30. Hours are wall-clock times of the
calendar's zone, so a day's hours move with daylight saving time, and a day whose hours span
the change has an hour more or less of them in real time. Everything outside is naive UTC, the
form the schema's timestamps hold. A calendar without hours is open around the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MIDNIGHT = time(0)
MAX_DAYS = 3 * 366
"""How far ahead a due time is looked for: a calendar open less than that is misconfigured."""


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    hours: Mapping[int, Sequence[tuple[time, time]]] | None = None
    """Weekday (Monday 0) -> its open intervals in order, each start before its end, an end
    of 00:00 being midnight at the day's end; None: always open. A weekday not named is
    closed."""
    holidays: frozenset[date] = frozenset()

    def add(self, start: datetime, minutes: float) -> datetime:
        """When ``minutes`` of business time have passed after ``start``."""
        left = timedelta(minutes=minutes)
        for opened, closed in self._intervals(start):
            begin = max(opened, start)
            if begin + left <= closed:
                return begin + left
            left -= closed - begin
        raise ValueError(f"the calendar is not open for {minutes} minutes within {MAX_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """How much business time lies between ``start`` and ``end``."""
        total = timedelta(0)
        for opened, closed in self._intervals(start):
            if opened >= end:
                break
            total += min(closed, end) - max(opened, start)
        return total

    def is_open(self, at: datetime) -> bool:
        opened, _closed = next(iter(self._intervals(at)))
        return opened <= at

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals that end after ``start``, as naive UTC pairs, in order."""
        if self.hours is None:
            yield start, start + timedelta(days=MAX_DAYS)
            return
        day = _local(start, self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS + 2):
            if day not in self.holidays:
                for opened, closed in self.hours.get(day.weekday(), ()):
                    closing_day = day + timedelta(days=1) if closed == MIDNIGHT else day
                    begin, end = _utc(day, opened, self.zone), _utc(closing_day, closed, self.zone)
                    if end > start:
                        yield begin, end
            day += timedelta(days=1)


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    return at.replace(tzinfo=UTC).astimezone(zone)


def _utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time of the zone as naive UTC; a time the clocks skip is read as the one
    before the change, as ``zoneinfo`` does (fold 0)."""
    wall = datetime.combine(day, at, tzinfo=zone)
    return wall.astimezone(UTC).replace(tzinfo=None)
