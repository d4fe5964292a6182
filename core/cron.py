"""Crontab expressions as people write them (``0 8 * * mon-fri``), read in a time zone of
their choosing: an agent's digest fires at 08:00 where they work, summer or winter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

_EPSILON = timedelta(microseconds=1)


def cron_expression(expression: str) -> str:
    """The expression, checked: 5 fields, days of the week by name (APScheduler 3 counts 0 as
    Monday where cron counts it as Sunday, so a number there would quietly pick another day),
    and a time that ever comes."""
    try:
        trigger = cron_trigger(expression, UTC)
    except ValueError as error:
        raise ValueError(f"invalid cron expression {expression!r}: {error}") from None
    if any(character.isdigit() for character in expression.split()[4]):
        raise ValueError(
            f"invalid cron expression {expression!r}: name the days of the week "
            "(mon, tue, ..., sun); APScheduler 3 counts 0 as Monday, cron as Sunday"
        )
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise ValueError(f"invalid cron expression {expression!r}: it never fires")
    return expression


def cron_trigger(expression: str, zone: tzinfo) -> CronTrigger:
    return CronTrigger.from_crontab(expression, timezone=zone)


def last_fire(trigger: CronTrigger, after: datetime, until: datetime) -> datetime | None:
    """The trigger's latest time in (``after``, ``until``], both naive UTC, as naive UTC; None:
    it does not fire then."""
    latest = None
    fire = trigger.get_next_fire_time(None, after.replace(tzinfo=UTC) + _EPSILON)
    while fire is not None and fire <= until.replace(tzinfo=UTC):
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + _EPSILON)
    return latest.astimezone(UTC).replace(tzinfo=None) if latest else None
