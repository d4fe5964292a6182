"""Helpers for the daemon tests: free loopback ports, config files, the daemon as a process."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
import structlog

from tests.support.ports import free_port

THREADLINE = Path(sys.executable).parent / "threadline"
AT_ONCE = {"THREADLINE_NOTIFICATIONS__COALESCE_SECONDS": "0"}
"""Each notification delivered at once rather than at its window's end: a test waits for what
it expects, and a window would make that wait up to two minutes."""
START_TIMEOUT_S = 15.0
T = TypeVar("T")


def write_config(path: Path, database_url: str | None, http_port: int, level: str = "info") -> Path:
    """A config file on loopback ports, JSON logs so the tests can read them line by line."""
    database = f'[database]\nurl = "{database_url}"\n\n' if database_url else ""
    path.write_text(
        f"{database}"
        f'[http]\nlisten = "127.0.0.1:{http_port}"\n\n'
        f'[smtp]\nlisten = "127.0.0.1:{free_port()}"\n\n'
        f'[logging]\nlevel = "{level}"\nformat = "json"\n\n'
        "[daemon]\nshutdown_timeout = 3\n",
        encoding="utf-8",
    )
    return path


class DaemonProcess:
    """``threadline run`` as systemd would run it, with its output kept in files."""

    def __init__(
        self,
        config: Path,
        port: int,
        directory: Path,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = (str(THREADLINE),),
    ) -> None:
        """``command``: what runs ``threadline`` (a wrapper that lists another channel)."""
        self.config = config
        self.port = port
        self.stdout_path = directory / f"daemon-{port}.out"
        self.stderr_path = directory / f"daemon-{port}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [*command, "run", "--config", str(config)],
                stdout=out,
                stderr=err,
                env={**_inherited_environment(), **AT_ONCE, **(env or {})},
                cwd=directory,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_until_serving(self) -> None:
        """Until /healthz says every component has started (healthy or not): what the daemon
        guarantees then, and not before, is that its listeners are bound."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"daemon exited with {self.process.returncode}: {self.stderr}")
            try:
                _status, body = self.get("/healthz")
            except OSError:
                body = b""
            if body and json.loads(body)["status"] != "starting":
                return
            time.sleep(0.05)
        pytest.fail(f"daemon not serving after {START_TIMEOUT_S} s: {self.stdout}{self.stderr}")

    def wait_for_log(self, event: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if line.get("event") == event and all(line.get(k) == v for k, v in fields.items()):
                    return line
            time.sleep(0.05)
        pytest.fail(f"no log event {event!r} {fields} within {timeout} s:\n{self.stdout}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


def _inherited_environment() -> dict[str, str]:
    """The test's environment without what would steer the daemon elsewhere: settings
    overrides, or the systemd sockets of whatever runs the suite."""
    skip = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"}
    return {
        name: value
        for name, value in os.environ.items()
        if name not in skip and not name.startswith("THREADLINE_")
    }


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Any]:
    """Start daemons for a test; whatever is still running at its end is killed."""
    started: list[DaemonProcess] = []

    def start(
        database_url: str | None,
        level: str = "info",
        env: Mapping[str, str] | None = None,
        wait: bool = True,
        port: int | None = None,
    ) -> DaemonProcess:
        port = port or free_port()
        config = write_config(tmp_path / f"config-{port}.toml", database_url, port, level)
        daemon = DaemonProcess(config, port, tmp_path, env)
        started.append(daemon)
        if wait:
            daemon.wait_until_serving()
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def sqlite_db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database, for behaviour that exists only with SQLite."""
    path = tmp_path / "only-sqlite.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A datagram socket standing in for systemd's, and the NOTIFY_SOCKET value naming it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "abstract":
        name = f"threadline-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        # sun_path holds 108 bytes; pytest's tmp_path can be longer than that.
        address = f"/tmp/threadline-notify-{uuid.uuid4().hex}.sock"
        sock.bind(address)
    sock.settimeout(0.2)
    yield address, sock
    sock.close()
    if request.param == "path":
        Path(address).unlink()


def collect(
    sock: socket.socket, seen: list[str], done: Callable[[list[str]], bool], timeout: float = 5
) -> None:
    deadline = time.monotonic() + timeout
    while not done(seen) and time.monotonic() < deadline:
        try:
            seen.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The supervisor configures process-wide logging; give the next test the old one back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def eventually(what: str, check: Callable[[], T | None], timeout: float = 10.0) -> T:
    """``check``'s first truthy answer; fails saying what did not happen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    pytest.fail(f"not within {timeout} s: {what}")
