"""Where settings come from: the TOML file, ``THREADLINE_<SECTION>__<KEY>`` variables, and a
secret's ``<key>_file`` or systemd credential.

Without pydantic, so ``threadline ingest``, which an MTA starts once per mail, reads the one
setting it needs (:func:`database_url`) through the same steps ``load_settings`` takes for it.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from threadline.core.database_url import DEFAULT_DATABASE_URL, supported_url

ENV_PREFIX = "THREADLINE_"
FILE_SUFFIX = "_file"
DATABASE_KEYS = frozenset({"url", "pool_size"})
"""The keys of ``[database]`` (``DatabaseSettings``)."""


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one ``key.path: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def database_url(path: Path | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """``database.url`` as ``load_settings`` reads it, without building the whole settings;
    None when something about it is wrong, for ``load_settings`` to report."""
    try:
        data = read_toml(path) if path is not None else {}
    except ConfigError:
        return None
    apply_environment(data, environ, {})
    section = data.get("database")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        return None
    if read_secret(section, "url", ("database",), environ.get("CREDENTIALS_DIRECTORY")):
        return None
    value = section.get("url", DEFAULT_DATABASE_URL)
    if not set(section) <= DATABASE_KEYS or not isinstance(value, str):
        return None
    try:
        return supported_url(value)
    except ValueError:
        return None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None


def apply_environment(
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


def read_secret(
    section: dict[str, Any], name: str, prefix: tuple[str, ...], credentials: str | None
) -> list[str]:
    """Fill the secret ``name`` of ``section`` (at key path ``prefix``) from ``<name>_file`` or
    a systemd credential named after its key path (``database.url``); the problems found."""
    path = (*prefix, name)
    file_key = name + FILE_SUFFIX
    source = section.pop(file_key, None)
    where = ".".join((*prefix, file_key))
    if source is not None and name in section:
        return [f"{where}: set either {'.'.join(path)} or {where}, not both"]
    if source is None and name not in section and credentials:
        candidate = Path(credentials, ".".join(path))
        if candidate.exists():
            source, where = str(candidate), f"credential {'.'.join(path)}"
    if source is None:
        return []
    try:
        section[name] = Path(source).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        return [f"{where}: cannot read {source}: {error.strerror}"]
    return []
