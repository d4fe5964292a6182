"""The whole configuration: one section per TOML table, each with its embedded default.

The core's sections are fixed here; each channel adds its own (``[email]``, ``[smtp]``...), so
the model of a run is :func:`settings_model` of the channels listed in ``daemon/channels.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, create_model, model_validator

from threadline.channels.descriptor import Channel
from threadline.core.config_types import Listen, ListenAddress
from threadline.core.schedule_settings import (
    AutoCloseSettings,
    CalendarSettings,
    DigestSettings,
    RetentionSettings,
    SlaSettings,
)
from threadline.core.settings import (
    AssignmentSettings,
    AttachmentSettings,
    DatabaseSettings,
    DispatchSettings,
    IdentitySettings,
    IntakeSettings,
    NotificationSettings,
    RoutingSettings,
    Section,
    ThreadingSettings,
    TicketSettings,
)
from threadline.daemon import channels
from threadline.daemon.scheduler_settings import SchedulerSettings

LogLevel = Literal["debug", "info", "warning", "error"]


class HttpSettings(Section):
    listen: Listen = ListenAddress("127.0.0.1", 8080)


class LoggingSettings(Section):
    level: LogLevel = "info"
    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: console lines on a terminal, JSON lines otherwise (journald)."""


class DaemonSettings(Section):
    shutdown_timeout: float = Field(default=10.0, gt=0, le=3600)
    """Seconds that SIGTERM waits for in-flight work before the process exits anyway."""


class Settings(Section):
    """The sections every run has; :func:`settings_model` adds the channels' own."""

    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    identity: IdentitySettings = IdentitySettings()
    threading: ThreadingSettings = ThreadingSettings()
    tickets: TicketSettings = TicketSettings()
    routing: RoutingSettings = RoutingSettings()
    assignment: AssignmentSettings = AssignmentSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    notifications: NotificationSettings = NotificationSettings()
    calendars: list[CalendarSettings] = Field(default_factory=list)
    sla: SlaSettings = SlaSettings()
    auto_close: AutoCloseSettings = AutoCloseSettings()
    digests: DigestSettings = DigestSettings()
    retention: RetentionSettings = RetentionSettings()
    intake: IntakeSettings = IntakeSettings()
    dispatch: DispatchSettings = DispatchSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()

    @model_validator(mode="after")
    def _calendars_named(self) -> Settings:
        """A target or agent naming a calendar that is not there would silently count around
        the clock."""
        names = [calendar.name for calendar in self.calendars]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"calendars: the name {twice[0]!r} is given twice")
        for index, target in enumerate(self.sla.targets):
            if target.calendar and target.calendar not in names:
                raise ValueError(
                    f"sla.targets[{index}].calendar: no [[calendars]] is named {target.calendar!r}"
                )
        return self


_models: dict[tuple[int, ...], type[Settings]] = {}
"""One model per set of channels, so that settings of one run compare equal."""


def settings_model(listed: Sequence[Channel] | None = None) -> type[Settings]:
    """The configuration of a run with these channels (by default, every listed one)."""
    chosen = tuple(channels.CHANNELS if listed is None else listed)
    key = tuple(id(channel) for channel in chosen)
    if key not in _models:
        fields: dict[str, Any] = {}
        for channel in chosen:
            for name, section in channel.sections.items():
                if name in Settings.model_fields or name in fields:
                    raise ValueError(f"channel {channel.name!r}: section [{name}] is taken")
                fields[name] = (section, section())
        _models[key] = create_model("Settings", __base__=Settings, **fields)
    return _models[key]


def default_settings() -> Settings:
    """Every setting at its embedded default."""
    return settings_model()()
