"""Running the real ``threadline`` command group in-process against each test database."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from threadline.daemon.cli.main import cli

Threadline = Callable[..., Result]


def invoke(database_url: str, *args: str, **env: str) -> Result:
    """``env`` adds ``THREADLINE_*`` settings; an outer ``THREADLINE_CONFIG`` is ignored."""
    return CliRunner().invoke(
        cli,
        list(args),
        env={"THREADLINE_CONFIG": None, "THREADLINE_DATABASE__URL": database_url, **env},
        catch_exceptions=False,
    )


@pytest.fixture
def threadline(db_url: str) -> Threadline:
    """``threadline("users", "list")`` on this test's migrated database."""

    def run(*args: str, **env: str) -> Result:
        return invoke(db_url, *args, **env)

    return run


def columns(output: str) -> list[list[str]]:
    """The cells of a table, cut where its header starts each column: a misaligned row reads
    wrong."""
    header, *rows = output.splitlines()
    starts = [0] + [gap.end() for gap in re.finditer(r"  +", header)]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[start:end].strip() for start, end in bounds] for line in [header, *rows]]
