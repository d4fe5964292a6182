"""``threadline run`` as a real process: it serves, drains on signals, refuses what it must,
talks to systemd, and never prints a secret."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.support.daemon import collect, free_port

PASSWORD = "Hunter2-do-not-log"


def assert_one_line_error(daemon: Any, *fragments: str) -> str:
    assert daemon.process.wait(timeout=10) != 0
    lines = daemon.stderr.strip().splitlines()
    assert len(lines) == 1, daemon.stderr
    assert "Traceback" not in daemon.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_healthz_then_drains_and_exits_0_within_5_s(
    start_daemon: Any, db_url: str, signum: int
) -> None:
    daemon = start_daemon(db_url)
    status, body = daemon.get("/healthz")
    assert status == 200
    assert json.loads(body)["database"] == {"ok": True}

    started = time.monotonic()
    assert daemon.stop(signum, timeout=5) == 0
    assert time.monotonic() - started < 5
    assert [line["event"] for line in daemon.log_lines()][-2:] == [
        "threadline stopping",
        "threadline stopped",
    ]
    assert daemon.stderr == ""


def test_second_instance_on_the_same_sqlite_file_refuses_to_start(
    start_daemon: Any, sqlite_db_url: str
) -> None:
    first = start_daemon(sqlite_db_url)
    second = start_daemon(sqlite_db_url, wait=False)

    database = str(Path(make_url(sqlite_db_url).database or "").resolve())
    assert_one_line_error(second, "already running", database, f"pid {first.process.pid}")
    assert first.get("/healthz")[0] == 200


@pytest.mark.parametrize("backend", ["postgresql"])
def test_several_instances_may_share_one_postgresql_database(
    start_daemon: Any, db_url: str
) -> None:
    first = start_daemon(db_url)
    second = start_daemon(db_url)
    assert first.get("/healthz")[0] == 200
    assert second.get("/healthz")[0] == 200


def test_unmigrated_database_refuses_with_the_upgrade_hint(
    start_daemon: Any, empty_db_url: str
) -> None:
    daemon = start_daemon(empty_db_url, wait=False)
    assert_one_line_error(daemon, "database schema is at", "run `threadline db upgrade`")


def test_unreachable_database_refuses_in_one_line_without_its_password(
    start_daemon: Any,
) -> None:
    url = f"postgresql+psycopg://threadline:{PASSWORD}@127.0.0.1:{free_port()}/threadline"
    daemon = start_daemon(url, wait=False)
    assert_one_line_error(daemon, "database unreachable")
    assert PASSWORD not in daemon.stdout + daemon.stderr


def test_port_in_use_refuses_in_one_line(start_daemon: Any, sqlite_db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = start_daemon(sqlite_db_url, port=port, wait=False)
        assert_one_line_error(daemon, f"cannot listen on http.listen 127.0.0.1:{port}", "in use")


def test_sighup_applies_the_new_log_level(start_daemon: Any, db_url: str) -> None:
    daemon = start_daemon(db_url, level="info")
    daemon.get("/healthz")
    assert not [line for line in daemon.log_lines() if line["level"] == "debug"]

    daemon.config.write_text(daemon.config.read_text().replace('"info"', '"debug"'))
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration reloaded", log_level="debug")
    daemon.get("/healthz")
    daemon.wait_for_log("healthz", level="debug")
    assert daemon.stop() == 0


def test_sighup_with_an_invalid_file_keeps_the_log_level(
    start_daemon: Any, sqlite_db_url: str
) -> None:
    daemon = start_daemon(sqlite_db_url, level="info")
    daemon.config.write_text(daemon.config.read_text().replace('"info"', '"chatty"'))
    daemon.process.send_signal(signal.SIGHUP)

    failure = daemon.wait_for_log("configuration reload failed, keeping the current log level")
    assert failure["level"] == "error"
    assert any(problem.startswith("logging.level") for problem in failure["problems"])
    assert daemon.get("/healthz")[0] == 200
    assert not [line for line in daemon.log_lines() if line["level"] == "debug"]
    assert daemon.stop() == 0


def test_tells_systemd_ready_watchdog_and_stopping(
    start_daemon: Any, db_url: str, notify_socket: tuple[str, socket.socket]
) -> None:
    address, sock = notify_socket
    daemon = start_daemon(db_url, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
    seen: list[str] = []
    collect(sock, seen, lambda seen: "READY=1" in seen and seen.count("WATCHDOG=1") >= 3)
    assert "READY=1" in seen
    assert seen.count("WATCHDOG=1") >= 3, seen

    assert daemon.stop() == 0
    collect(sock, seen, lambda seen: "STOPPING=1" in seen)
    assert "STOPPING=1" in seen


@pytest.mark.parametrize("backend", ["postgresql"])
def test_secrets_never_reach_the_log_output(start_daemon: Any, db_url: str) -> None:
    # The suite's server trusts local connections, so any password gets in: it still must
    # never be printed, at any level, in any message.
    url = make_url(db_url).set(password=PASSWORD).render_as_string(hide_password=False)
    daemon = start_daemon(url, level="debug")
    assert daemon.get("/healthz")[0] == 200
    assert daemon.get("/metrics")[0] == 200
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log("configuration reloaded")
    assert daemon.stop() == 0

    started = daemon.wait_for_log("threadline started")
    assert started["database"] == make_url(url).render_as_string(hide_password=True)
    assert PASSWORD not in daemon.stdout + daemon.stderr
