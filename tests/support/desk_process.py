"""What the end-to-end tests of a channel read and run around the daemon they started: the
command line on the same configuration, and the intake queue until it has settled."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import THREADLINE, eventually
from threadline.core.models import InboundItem


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
