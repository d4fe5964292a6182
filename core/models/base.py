"""Declarative base, naming convention and the column types every table shares.

Constraint names are fixed by convention so migrations and models name them alike on SQLite and
PostgreSQL, and later migrations can address them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from threadline.core.utc import now_utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonDocument = JSON().with_variant(JSONB(), "postgresql")
"""JSONB on PostgreSQL, JSON (text) on SQLite, as the support schema asks."""


class utcnow(FunctionElement[datetime]):
    """Server-side 'now' in UTC for TIMESTAMP WITHOUT TIME ZONE columns on either database."""

    type = DateTime()
    inherit_cache = True


@compiles(utcnow, "postgresql")
def _utcnow_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return "(now() AT TIME ZONE 'utc')"


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """The CHECK that makes a VARCHAR column an enum; named after the column."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(), nullable=False, default=now_utc, server_default=utcnow())


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(
        DateTime(), nullable=False, default=now_utc, onupdate=now_utc, server_default=utcnow()
    )
