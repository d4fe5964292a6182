"""A processor process that claims a batch, writes in it and hangs, for tests that kill it
mid-batch with SIGKILL.

``python -m tests.support.hanging_processor`` reads its settings the way ``threadline`` does
(``THREADLINE_*`` variables, such as ``THREADLINE_INTAKE__LEASE``). Once the first item's rows
are written inside the open batch transaction, it prints ``handling <id>`` and waits.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session

from threadline.core.db import make_engine, session_factory
from threadline.core.models import Client, InboundItem
from threadline.core.outcome import Outcome
from threadline.core.processor import Processor, one_at_a_time
from threadline.daemon.config import load_settings

HANG_S = 60.0
"""Bounded, so a test that fails to kill this process does not leave it behind for long."""
ROOT = Path(__file__).resolve().parents[2]


def half_done(item_id: int) -> str:
    return f"half-done {item_id}"


def hang(session: Session, item: InboundItem) -> Outcome:
    session.add(Client(name=half_done(item.id)))
    session.flush()
    print(f"handling {item.id}", flush=True)
    time.sleep(HANG_S)
    raise TimeoutError("nobody killed this processor")


def kill_while_handling(
    env: dict[str, str], directory: Path, item_id: int = 1, timeout: float = 30.0
) -> None:
    """Run this processor with ``env`` until it is handling ``item_id``, then SIGKILL it: the
    item stays leased to a process that is gone, its batch rolled back."""
    output = directory / "hanging.out"
    with output.open("wb") as out:
        hanging = subprocess.Popen(
            [sys.executable, "-m", "tests.support.hanging_processor"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + timeout
        while f"handling {item_id}" not in output.read_text():
            assert hanging.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"not handling within {timeout} s"
            time.sleep(0.05)
    finally:
        hanging.kill()
        hanging.wait(timeout=timeout)


def main() -> None:
    settings = load_settings(None)
    engine = make_engine(settings.database.url)
    Processor(session_factory(engine), one_at_a_time(hang), settings.intake).run_batch()


if __name__ == "__main__":
    main()
