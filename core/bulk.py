"""Many rows of one table in one go, for the batch's buffered writes.

SQLAlchemy's executemany builds and type-processes each row's parameters in Python, which costs
more than the database's own work for the few narrow rows a message makes (a notification and
an outbox row per agent). Here the statement text and each column's conversion are worked out
once per dialect, from SQLAlchemy's own bind processors (so stored values are exactly what the
ORM writes and reads back), and the rows go to the driver as they are:

- PostgreSQL: one ``INSERT ... SELECT ... FROM json_array_elements(%s)``: the rows travel as
  one JSON document, which Python's C encoder writes far faster than psycopg adapts row parameters
  or array elements, in one statement and one round trip for the whole batch, whatever its
  size, with a fixed text the server prepares once.
- SQLite: the driver's own ``executemany`` of a plain ``VALUES`` statement (in-process, so there
  is no round trip to save).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Column, Connection, DateTime, LargeBinary, Table
from sqlalchemy.engine import Dialect

Convert = Callable[[Any], Any]
_UNSET = object()

SQLITE_MAX_VARIABLES = 999
"""The lowest limit SQLite builds still ship with."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    converters: tuple[Convert | None, ...]
    """Per column, what turns a Python value into what the statement takes (None: as is)."""


class BulkInsert:
    """``INSERT`` of rows given as tuples of the ``columns``' values, in their order (the row
    classes of ``core/rows.py``); the table's other columns get their Python-side defaults, as
    in an ORM insert."""

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        skip_conflicts_on: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> None:
        """``skip_conflicts_on``: the unique columns whose duplicates are skipped silently
        (``ON CONFLICT (...) DO NOTHING``), as when re-handling queues nothing twice.
        ``returning``: columns :meth:`execute` answers for each row it stored, so a caller
        learns which rows a concurrent transaction had stored first."""
        self._table = table
        self._given = tuple(columns)
        self._defaults = tuple(
            column
            for column in table.columns
            if column.key not in self._given
            and column.default is not None
            and (column.default.is_scalar or column.default.is_callable)
        )
        self._columns = tuple(table.columns[key] for key in self._given) + self._defaults
        self._skip_conflicts_on = tuple(skip_conflicts_on)
        self._returning = tuple(returning)
        self._compiled: dict[str, _Compiled] = {}
        self._sqlite_rows: dict[int, str] = {}

    def execute(
        self, connection: Connection, rows: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        """The ``returning`` columns of the rows stored (none unless asked for)."""
        if not rows:
            return []
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        defaults = [_default_value(column) for column in self._defaults]
        records = [[*row, *defaults] for row in rows]
        for index, convert in enumerate(compiled.converters):
            if convert is None:
                continue
            # A batch's rows share values (its one clock reading): each is converted once.
            last: tuple[Any, Any] = (_UNSET, None)
            for record in records:
                value = record[index]
                if value is not last[0]:
                    last = (value, convert(value))
                record[index] = last[1]
        if dialect.name == "postgresql":
            result = connection.exec_driver_sql(compiled.sql, (json.dumps(records),))
            return [tuple(row) for row in result] if self._returning else []
        if not self._returning:
            connection.exec_driver_sql(compiled.sql, [tuple(record) for record in records])
            return []
        # SQLite's executemany cannot return rows: multi-row VALUES, within its variable limit.
        per_statement = max(1, SQLITE_MAX_VARIABLES // len(self._columns))
        stored: list[tuple[Any, ...]] = []
        for start in range(0, len(records), per_statement):
            chunk = records[start : start + per_statement]
            sql = self._sqlite_rows_sql(compiled.sql, len(chunk))
            parameters = tuple(value for record in chunk for value in record)
            stored += [tuple(row) for row in connection.exec_driver_sql(sql, parameters)]
        return stored

    def _sqlite_rows_sql(self, sql: str, count: int) -> str:
        """``sql`` with ``count`` rows of placeholders, kept per count (a batch makes two)."""
        cached = self._sqlite_rows.get(count)
        if cached is None:
            row = "(" + ", ".join("?" for _ in self._columns) + ")"
            cached = self._sqlite_rows[count] = sql.replace(
                f"VALUES {row}", "VALUES " + ", ".join(row for _ in range(count)), 1
            )
        return cached

    def _compile(self, dialect: Dialect) -> _Compiled:
        preparer = dialect.identifier_preparer
        names = ", ".join(preparer.quote(column.name) for column in self._columns)
        table = preparer.format_table(self._table)
        # The texts hold only names from the table metadata; every value is a parameter.
        if dialect.name == "postgresql":
            values = ", ".join(
                _from_json(index, column, dialect) for index, column in enumerate(self._columns)
            )
            rows = "jsonb_array_elements(%s::jsonb) AS r"
            sql = f"INSERT INTO {table} ({names}) SELECT {values} FROM {rows}"  # noqa: S608
            converters = tuple(_json_converter(column) for column in self._columns)
        else:
            marks = ", ".join("?" for _ in self._columns)
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
            converters = tuple(
                column.type._cached_bind_processor(dialect) for column in self._columns
            )
        if self._skip_conflicts_on:
            keys = ", ".join(preparer.quote(key) for key in self._skip_conflicts_on)
            sql += f" ON CONFLICT ({keys}) DO NOTHING"
        if self._returning:
            sql += " RETURNING " + ", ".join(preparer.quote(key) for key in self._returning)
        return _Compiled(sql, converters)


def _from_json(index: int, column: Column[Any], dialect: Dialect) -> str:
    """Element ``index`` of the row's JSON array, as the column's type. A JSON column takes
    the element itself, so a Python None is JSON ``null`` there, as SQLAlchemy writes it."""
    if isinstance(column.type, JSON):
        return f"(r->{index})::{column.type.compile(dialect)}"
    if isinstance(column.type, LargeBinary):
        return f"decode(r->>{index}, 'base64')"
    return f"(r->>{index})::{column.type.compile(dialect)}"


def _json_converter(column: Column[Any]) -> Convert | None:
    """Like SQLAlchemy's bind processors, these pass None through."""
    if isinstance(column.type, DateTime):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(column.type, LargeBinary):
        return lambda value: None if value is None else base64.b64encode(value).decode("ascii")
    return None


def _default_value(column: Column[Any]) -> Any:
    default = column.default
    assert default is not None
    return default.arg(None) if default.is_callable else default.arg
