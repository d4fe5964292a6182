"""Loading settings: TOML file, then ``THREADLINE_<SECTION>__<KEY>`` variables, then secrets.

Every problem is collected and reported with its TOML key path, so an operator fixes a file in
one pass instead of one error per restart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from threadline.core.config_types import Secret
from threadline.core.parsers import UnknownChannel
from threadline.daemon import channels
from threadline.daemon.config_sources import (
    ConfigError,
    apply_environment,
    read_secret,
    read_toml,
)
from threadline.daemon.scheduler_settings import unknown_jobs
from threadline.daemon.settings import Settings, settings_model


def load_settings(path: Path | None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Build the settings from an optional TOML file and the environment, or raise ConfigError."""
    data = read_toml(path) if path is not None else {}
    origins: dict[tuple[str, ...], str] = {}
    apply_environment(data, environ, origins)
    model = settings_model()
    problems = _resolve_secrets(data, model, (), environ.get("CREDENTIALS_DIRECTORY"))
    try:
        settings = model.model_validate(data)
    except ValidationError as error:
        problems += [_describe(err, origins) for err in error.errors()]
        raise ConfigError(problems) from None
    problems += _channel_choices(settings) + unknown_jobs(settings.scheduler)
    if problems:
        raise ConfigError(problems)
    return settings


def _channel_choices(settings: Settings) -> list[str]:
    """Settings that name a channel, checked against the listed channels."""
    name = settings.notifications.channel
    try:
        chosen = channels.channel(name)
    except UnknownChannel as error:
        return [f"notifications.channel: {error}"]
    if not chosen.traits.carries_notifications:
        able = [c.name for c in channels.CHANNELS if c.traits.carries_notifications]
        return [
            f"notifications.channel: channel {name!r} cannot carry agents' notifications; "
            f"use one of {', '.join(able)}"
        ]
    return []


def _resolve_secrets(
    data: dict[str, Any],
    model: type[BaseModel],
    prefix: tuple[str, ...],
    credentials: str | None,
) -> list[str]:
    """Fill secret fields from ``<key>_file`` or a systemd credential named ``section.key``."""
    problems: list[str] = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            section = data.get(name)
            if section is None:
                section = {}
            if isinstance(section, dict):
                problems += _resolve_secrets(section, annotation, path, credentials)
                if section:
                    data[name] = section
            continue
        item_model = _item_model(annotation)
        if item_model is not None:
            items = data.get(name)
            for index, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict):
                    # No credential fallback: an entry's position is no name to give one.
                    problems += _resolve_secrets(item, item_model, (*path, str(index)), None)
            continue
        if any(isinstance(mark, Secret) for mark in field.metadata):
            problems += read_secret(data, name, prefix, credentials)
    return problems


def _item_model(annotation: Any) -> type[BaseModel] | None:
    """The section type of a list of sections (``[[imap.mailboxes]]``), else None."""
    if get_origin(annotation) not in (list, tuple):
        return None
    item = get_args(annotation)[0]
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _describe(error: Any, origins: Mapping[tuple[str, ...], str]) -> str:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join(loc) or "(top level)"
    origin = origins.get(loc)
    if origin:
        key += f" (from {origin})"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return f"{key}: {message}"
