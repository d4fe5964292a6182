"""``database.url`` read alone, as ``threadline ingest`` reads it, is what the full settings
hold, wherever it comes from; where anything about it is wrong, the full loader is left to say
what."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from threadline.core.settings import DatabaseSettings
from threadline.daemon.config import ConfigError, load_settings
from threadline.daemon.config_sources import DATABASE_KEYS, database_url

Source = Callable[[Path], tuple[Path | None, dict[str, str]]]


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "threadline.toml"
    path.write_text(text)
    return path


def secret(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "url.secret"
    path.write_text(value + "\n")
    return path


def credential(tmp_path: Path, value: str) -> str:
    """A credentials directory (``CREDENTIALS_DIRECTORY``) holding ``database.url``."""
    (tmp_path / "database.url").write_text(value)
    return str(tmp_path)


SOURCES: dict[str, Source] = {
    "the default": lambda _tmp: (None, {}),
    "the file": lambda tmp: (toml(tmp, '[database]\nurl = "postgresql://a@db/x"\n'), {}),
    "the environment over the file": lambda tmp: (
        toml(tmp, '[database]\nurl = "sqlite:///file.db"\npool_size = 3\n'),
        {"THREADLINE_DATABASE__URL": "sqlite+pysqlite:////srv/env.db"},
    ),
    "a file named in the file": lambda tmp: (
        toml(tmp, f'[database]\nurl_file = "{secret(tmp, "postgresql://a:p%40ss@db/x")}"\n'),
        {},
    ),
    "a file named in the environment": lambda tmp: (
        None,
        {"THREADLINE_DATABASE__URL_FILE": str(secret(tmp, "sqlite:///secret.db"))},
    ),
    "a systemd credential": lambda tmp: (
        None,
        {"CREDENTIALS_DIRECTORY": credential(tmp, "postgresql://app:pw@db:5433/support")},
    ),
    "the file over a credential": lambda tmp: (
        toml(tmp, '[database]\nurl = "sqlite:///here.db"\n'),
        {"CREDENTIALS_DIRECTORY": credential(tmp, "postgresql://app:pw@db/support")},
    ),
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_the_url_read_alone_is_the_one_the_settings_hold(tmp_path: Path, source: Source):
    path, environ = source(tmp_path)

    assert database_url(path, environ) == load_settings(path, environ).database.url


PROBLEMS: dict[str, Source] = {
    "given twice": lambda tmp: (
        toml(tmp, f'[database]\nurl = "sqlite:///a.db"\nurl_file = "{secret(tmp, "x")}"\n'),
        {},
    ),
    "an unreadable file": lambda tmp: (None, {"THREADLINE_DATABASE__URL_FILE": str(tmp / "no")}),
    "another database": lambda _tmp: (None, {"THREADLINE_DATABASE__URL": "mysql://db/x"}),
    "no URL": lambda _tmp: (None, {"THREADLINE_DATABASE__URL": "threadline.db"}),
    "a mistyped key": lambda tmp: (toml(tmp, '[database]\nulr = "sqlite:///a.db"\n'), {}),
    "not TOML": lambda tmp: (toml(tmp, "[database\n"), {}),
}


@pytest.mark.parametrize("source", PROBLEMS.values(), ids=PROBLEMS.keys())
def test_a_url_the_settings_refuse_is_not_read_alone(tmp_path: Path, source: Source):
    path, environ = source(tmp_path)

    assert database_url(path, environ) is None
    with pytest.raises(ConfigError):
        load_settings(path, environ)


def test_the_keys_of_the_database_table_are_the_settings_model_s():
    assert set(DatabaseSettings.model_fields) == DATABASE_KEYS
