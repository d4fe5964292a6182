"""Whatever goes wrong, the operator reads one ``Error:`` line that says what to do next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.cli.conftest import invoke

THREADLINE = str(Path(sys.executable).with_name("threadline"))

COMMANDS = [
    ("users", "list"),
    ("users", "add", "Grace", "grace@example.com"),
    ("departments", "list"),
    ("departments", "add", "Sales"),
    ("clients", "list"),
    ("clients", "add", "Ada", "-e", "email", "ada@example.com"),
    ("clients", "link", "1", "email", "ada@example.com"),
    ("tickets", "list"),
    ("tickets", "show", "1"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_database_without_the_schema_asks_for_db_upgrade(
    empty_db_url: str, command: tuple[str, ...]
):
    refused = invoke(empty_db_url, *command)

    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: database has no threadline schema")
    assert refused.stderr.endswith("run `threadline db upgrade`\n")
    assert refused.stderr.count("\n") == 1


def test_an_unreachable_database_is_one_line():
    refused = invoke("postgresql://threadline@127.0.0.1:1/threadline", "tickets", "list")

    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: database unreachable: ")
    assert refused.stderr.count("\n") == 1


def run_console_script(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = database_url
    return subprocess.run(
        [THREADLINE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_installed_command_shows_a_refusal_without_traceback(db_url: str):
    added = run_console_script(db_url, "clients", "add", "Ada", "-e", "email", "ada@example.com")
    assert added.returncode == 0, added.stderr

    taken = run_console_script(db_url, "clients", "add", "Bob", "-e", "email", "ADA@example.com")
    national = run_console_script(db_url, "clients", "link", "1", "phone", "12345")
    missing = run_console_script(db_url, "tickets", "show", "404")

    for refused in (taken, national, missing):
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr.startswith("Error: ")
        assert refused.stderr.count("\n") == 1
    assert taken.stderr == "Error: email:ada@example.com already belongs to client 1 (Ada)\n"
    assert national.stderr.startswith("Error: phone '12345' has no country code")
    assert missing.stderr == "Error: no ticket with id 404\n"


def test_the_installed_command_on_an_unmigrated_database_has_no_traceback(empty_db_url: str):
    refused = run_console_script(empty_db_url, "users", "list")

    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert refused.stderr.startswith("Error: database has no threadline schema")
    assert refused.stderr.count("\n") == 1
