"""Loading settings: TOML file, then ``THREADLINE_<SECTION>__<KEY>`` variables, then secrets.

Every problem is collected and reported with its TOML key path, so an operator fixes a file in
one pass instead of one error per restart.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from threadline.core.config_types import Secret
from threadline.core.parsers import UnknownChannel
from threadline.daemon import channels
from threadline.daemon.scheduler_settings import unknown_jobs
from threadline.daemon.settings import Settings, settings_model

ENV_PREFIX = "THREADLINE_"
FILE_SUFFIX = "_file"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one ``key.path: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(path: Path | None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Build the settings from an optional TOML file and the environment, or raise ConfigError."""
    data = _read_toml(path) if path is not None else {}
    origins: dict[tuple[str, ...], str] = {}
    _apply_environment(data, environ, origins)
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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str], origins: dict[tuple[str, ...], str]
) -> None:
    """Overlay ``THREADLINE_SECTION__KEY`` variables; JSON text is decoded for lists and tables."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                break
        else:
            value: Any = raw
            if raw[:1] in "[{":
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    value = raw
            target[keys[-1]] = value
            origins[keys] = name


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
        if not any(isinstance(mark, Secret) for mark in field.metadata):
            continue
        file_key = name + FILE_SUFFIX
        source = data.pop(file_key, None)
        where = ".".join((*prefix, file_key))
        if source is not None and name in data:
            problems.append(f"{where}: set either {'.'.join(path)} or {where}, not both")
            continue
        if source is None and name not in data and credentials:
            candidate = Path(credentials, ".".join(path))
            if candidate.exists():
                source, where = str(candidate), f"credential {'.'.join(path)}"
        if source is None:
            continue
        try:
            data[name] = Path(source).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            problems.append(f"{where}: cannot read {source}: {error.strerror}")
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
