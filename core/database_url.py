"""Which database URLs threadline takes, and the driver each names. A module of its own, without
SQLAlchemy: the settings check ``database.url`` with it, and ``threadline ingest`` reads the URL
with it before connecting through the driver alone."""

from __future__ import annotations

DEFAULT_DATABASE_URL = "sqlite:///var/threadline.db"
SQLITE = "sqlite"
POSTGRESQL = "postgresql+psycopg"

_DRIVERS = {
    "sqlite": SQLITE,
    "sqlite+pysqlite": SQLITE,
    "postgresql": POSTGRESQL,
    "postgresql+psycopg": POSTGRESQL,
}
_USE = "use sqlite:///PATH or postgresql://USER@HOST/DB"
NOT_A_URL = f"not a database URL; {_USE}"


def supported_url(value: str) -> str:
    """``value`` naming the driver threadline connects with (``postgresql+psycopg``), the rest
    as written; ValueError for a URL of another database, or none."""
    scheme, separator, rest = value.partition("://")
    if not separator:
        raise ValueError(NOT_A_URL)
    driver = _DRIVERS.get(scheme)
    if driver is None:
        raise ValueError(f"unsupported database {scheme!r}; {_USE}")
    return f"{driver}://{rest}"
