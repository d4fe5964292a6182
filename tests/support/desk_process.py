"""What the end-to-end tests of a channel read and run around the daemon they start: its
configuration, the command line on it, and the intake queue until it has settled."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import THREADLINE, eventually, write_config
from threadline.core.models import InboundItem


def desk_config(
    path: Path,
    db_url: str,
    http_port: int,
    smarthost_port: int,
    extra: str,
    max_attempts: int = 5,
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
