"""Settings of the email channel."""

from __future__ import annotations

from core.config_types import Listen, ListenAddress
from core.settings import Section


class SmtpSettings(Section):
    listen: Listen = ListenAddress("127.0.0.1", 2525)
