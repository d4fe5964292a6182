"""Database fixtures: every database test runs once on SQLite and once on PostgreSQL.

PostgreSQL is the server ``tests.support.postgres`` starts from the machine's binaries (or the
one ``THREADLINE_TEST_PG_URL`` names). Under ``CI=true`` a missing server fails the run instead of
skipping its half of the suite.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.postgres import (
    PostgresServer,
    PostgresUnavailable,
    external_postgres,
    start_postgres,
)
from threadline.core.db import make_engine, session_factory
from threadline.core.migrate import upgrade

pytest_plugins = ["tests.support.daemon"]

BACKENDS = ("sqlite", "postgresql")
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = os.environ.get("THREADLINE_TEST_PG_URL")
    if url:
        yield external_postgres(url)
        return
    try:
        server = start_postgres()
    except PostgresUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL: {error}")
        pytest.skip(str(error))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A migrated database that each test's database is copied from (fast, and isolated)."""
    name = f"threadline_template_{os.getpid()}"
    with psycopg.connect(postgres_server.conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(postgres_server.database_url(name))
    upgrade(engine)
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def postgres_database(server: PostgresServer, template: str | None) -> Iterator[str]:
    """A new database for one test, dropped afterwards even if connections were left open."""
    name = f"threadline_test_{os.getpid()}_{next(_database_numbers)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{clause}')
    yield server.database_url(name)
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no tables at all, on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with postgres_database(request.getfixturevalue("postgres_server"), None) as url:
        yield url


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated database with empty tables, on each backend."""
    if backend == "sqlite":
        path = tmp_path / "threadline.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    with postgres_database(server, request.getfixturevalue("postgres_template")) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
