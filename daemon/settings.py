"""The whole configuration: one section per TOML table, each with its embedded default."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from threadline.channels.email.settings import (
    EmailSettings,
    ImapSettings,
    SmarthostSettings,
    SmtpSettings,
)
from threadline.core.config_types import Listen, ListenAddress
from threadline.core.settings import (
    DatabaseSettings,
    DispatchSettings,
    IdentitySettings,
    IntakeSettings,
    RoutingSettings,
    Section,
    ThreadingSettings,
    TicketSettings,
)

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
    database: DatabaseSettings = DatabaseSettings()
    http: HttpSettings = HttpSettings()
    email: EmailSettings = EmailSettings()
    smtp: SmtpSettings = SmtpSettings()
    smarthost: SmarthostSettings = SmarthostSettings()
    imap: ImapSettings = ImapSettings()
    identity: IdentitySettings = IdentitySettings()
    threading: ThreadingSettings = ThreadingSettings()
    tickets: TicketSettings = TicketSettings()
    routing: RoutingSettings = RoutingSettings()
    intake: IntakeSettings = IntakeSettings()
    dispatch: DispatchSettings = DispatchSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()
