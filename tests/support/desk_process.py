"""What the end-to-end tests of a channel read and run around the daemon they start: its
configuration, the command line on it, and the intake queue until it has settled."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import THREADLINE, DaemonProcess, eventually, write_config
from tests.support.ports import free_port
from threadline.core.models import InboundItem


@contextmanager
def desk_daemon(
    directory: Path,
    db_url: str,
    smarthost_port: int,
    extra: str,
    commands: Sequence[tuple[str, ...]] = (),
    max_attempts: int = 5,
) -> Iterator[tuple[DaemonProcess, int]]:
    """The desk's daemon, serving, with the port of its SMTP listener; killed on leaving.
    ``commands`` (``threadline`` command lines: users, departments) run before it starts."""
    http_port, smtp_port = free_port(), free_port()
    config = _desk_config(
        directory / "config.toml", db_url, http_port, smarthost_port, extra, max_attempts
    )
    for command in commands:
        run_threadline(config, *command)
    env = {"THREADLINE_SMTP__LISTEN": f"127.0.0.1:{smtp_port}"}
    daemon = DaemonProcess(config, http_port, directory, env)
    try:
        daemon.wait_until_serving()
        yield daemon, smtp_port
    finally:
        daemon.kill()


def _desk_config(
    path: Path,
    db_url: str,
    http_port: int,
    smarthost_port: int,
    extra: str,
    max_attempts: int,
) -> Path:
    """The desk's mail address, the test's sink as smarthost, retries that fall due within a
    second (``max_attempts`` tries of an item), and the channel's ``extra`` tables."""
    write_config(path, db_url, http_port)
    with path.open("a", encoding="utf-8") as config:
        config.write(
            '\n[email]\naddress = "support@desk.example"\ndomains = ["desk.example"]\n'
            f'\n[smarthost]\nhost = "127.0.0.1"\nport = {smarthost_port}\ntimeout = 10\n'
            "\n[intake]\nretry_initial = 0.2\nretry_maximum = 0.5\nsweep_interval = 1\n"
            f"max_attempts = {max_attempts}\n"
            "\n[dispatch]\nretry_initial = 0.2\nretry_maximum = 1\nsweep_interval = 1\n" + extra
        )
    return path


def run_threadline(config: Path, *args: str) -> str:
    """``threadline ARGS --config CONFIG``; its output, once it has succeeded."""
    done = subprocess.run(
        [str(THREADLINE), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def inbound_items(sessions: sessionmaker[Session]) -> list[InboundItem]:
    with sessions() as session:
        return list(session.scalars(select(InboundItem).order_by(InboundItem.id)))


def settled(sessions: sessionmaker[Session], timeout: float) -> list[InboundItem]:
    """Every item accepted so far, once none is pending."""

    def done() -> list[InboundItem] | None:
        items = inbound_items(sessions)
        return items if items and all(item.status != "pending" for item in items) else None

    return eventually("every item handled", done, timeout)
