"""Parse ahead: claimed items parsed in worker processes, each result in its item's place,
and a parser that kills its worker costs only the item it was parsing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.mail_generator import corpus
from tests.support.parsers import (
    CHANNEL,
    CHEAP_CHANNEL,
    DIE,
    FAIL,
    HANG,
    PARK,
    build_test_parsers,
)
from threadline.channels.email import CHANNEL as EMAIL
from threadline.core.normalized import Inbound
from threadline.core.outcome import Park
from threadline.core.processor import QueuedItem
from threadline.daemon.channels import build_parsers
from threadline.daemon.parse_workers import IN_PROCESS_ABOVE, ParseAhead, ParseFailed

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 10.0
TIMEOUT_S = 30.0
"""The workers' parse timeout, where no test means to reach it."""


def queued(*raws: bytes, channel: str = CHANNEL) -> list[QueuedItem]:
    return [QueuedItem(n, channel, raw, None, 0) for n, raw in enumerate(raws, start=1)]


@pytest.fixture
def workers() -> Iterator[ParseAhead]:
    with ParseAhead(build_test_parsers, workers=2, timeout=TIMEOUT_S) as parsing:
        yield parsing


def subjects(parsed: list[Inbound | Exception]) -> list[str]:
    return [p.subject if isinstance(p, Inbound) else type(p).__name__ for p in parsed]


def test_workers_parse_what_this_process_would_each_in_its_items_place():
    mails = corpus(300).mails
    items = queued(*mails, channel=EMAIL)
    with ParseAhead(build_parsers, workers=2, timeout=TIMEOUT_S) as parsing:
        in_workers = parsing(items)()
    here = ParseAhead(build_parsers, workers=0, timeout=TIMEOUT_S)(items)()

    assert in_workers == here
    assert all(isinstance(parsed, Inbound) for parsed in here)


def test_small_items_go_to_the_workers_and_large_ones_stay_in_this_process(workers):
    large = b"x" * (IN_PROCESS_ABOVE + 1)

    parsed = workers(queued(b"a", large, b"b"))()

    pids = [int(p.full_text) for p in parsed if isinstance(p, Inbound)]
    assert pids[1] == os.getpid()
    assert os.getpid() not in (pids[0], pids[2])


def test_a_channel_not_worth_a_worker_is_parsed_in_this_process(workers):
    items = [*queued(b"a"), *queued(b"b", channel=CHEAP_CHANNEL)]

    parsed = workers(items)()

    pids = [int(p.full_text) for p in parsed if isinstance(p, Inbound)]
    assert pids[0] != os.getpid()
    assert pids[1] == os.getpid()


def test_without_workers_everything_is_parsed_here_when_the_batch_is_handled():
    parsing = ParseAhead(build_test_parsers, workers=0, timeout=TIMEOUT_S)

    parsed = parsing(queued(b"a", b"b"))()

    assert [int(p.full_text) for p in parsed if isinstance(p, Inbound)] == [os.getpid()] * 2


def test_a_parser_failure_comes_back_as_the_items_own_retry_or_park(workers):
    parsed = workers(queued(b"a", FAIL, PARK, b"b"))()

    assert subjects(parsed) == ["a", "ParseFailed", "Park", "b"]
    assert isinstance(parsed[1], ParseFailed)
    assert str(parsed[1]) == "ValueError: unreadable\nsecond line"
    assert isinstance(parsed[2], Park)
    assert str(parsed[2]) == "no sender at all"


def test_a_channel_without_parser_is_parked(workers):
    (parsed,) = workers(queued(b"a", channel="fax"))()

    assert isinstance(parsed, Park)
    assert "no parser for channel 'fax'" in str(parsed)


def test_an_item_that_kills_its_worker_fails_alone_and_the_workers_go_on(workers):
    batch = [f"m{n}".encode() for n in range(10)]
    batch[3] = DIE

    parsed = workers(queued(*batch))()

    assert subjects(parsed) == [
        *(f"m{n}" for n in range(3)),
        "ParseFailed",
        *(f"m{n}" for n in range(4, 10)),
    ]
    assert str(parsed[3]).startswith("the parse worker ended while parsing this item")
    assert subjects(workers(queued(b"after"))()) == ["after"]


def test_a_worker_that_died_between_batches_is_replaced_for_the_next_one(workers):
    """Killed while idle (the OOM killer, say), it leaves a pool that takes no more work."""
    before = {child.pid for child in multiprocessing.active_children()}
    assert subjects(workers(queued(b"before"))()) == ["before"]
    started = {child.pid for child in multiprocessing.active_children()} - before
    for pid in started:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT_S
    # Gone from /proc once reaped: by the pool, which then knows itself broken.
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert subjects(workers(queued(b"m1", b"m2", b"m3"))()) == ["m1", "m2", "m3"]


def test_a_parse_that_runs_away_is_ended_and_fails_alone():
    """Stuck in the regular expression engine, where no signal handler would ever run."""
    with ParseAhead(build_test_parsers, workers=2, timeout=1.0) as parsing:
        started = time.monotonic()

        parsed = parsing(queued(b"a", HANG, b"b", b"c"))()

        assert time.monotonic() - started < WAIT_S
        assert subjects(parsed) == ["a", "ParseFailed", "b", "c"]
        assert "parse_timeout" in str(parsed[1])
        assert subjects(parsing(queued(b"after"))()) == ["after"]


def test_batches_in_flight_together_each_get_their_own_results(workers):
    """The processor starts the next batch's parse before it waits for the one ahead."""
    first = workers(queued(*(f"a{n}".encode() for n in range(50))))
    second = workers(queued(*(f"b{n}".encode() for n in range(50))))

    assert subjects(second()) == [f"b{n}" for n in range(50)]
    assert subjects(first()) == [f"a{n}" for n in range(50)]


def test_a_batch_still_waiting_when_the_workers_stop_is_parsed_here():
    parsing = ParseAhead(build_test_parsers, workers=1, timeout=TIMEOUT_S)
    waiting = [parsing(queued(*(f"m{n}".encode() for n in range(20)))) for _ in range(20)]

    parsing.close()

    for wait in waiting:
        assert subjects(wait()) == [f"m{n}" for n in range(20)]
    (later,) = parsing(queued(b"later"))()
    assert isinstance(later, Inbound)
    assert int(later.full_text) == os.getpid(), "no new workers once stopped"


ORPHAN_SCRIPT = """
import sys
from threadline.daemon.parse_workers import ParseAhead
from threadline.core.processor import QueuedItem
from tests.support.parsers import build_test_parsers

parsing = ParseAhead(build_test_parsers, workers=1, timeout=30.0)
(parsed,) = parsing([QueuedItem(1, "test", b"x", None, 0)])()
print(parsed.full_text, flush=True)
sys.stdin.read()
"""


def test_a_worker_whose_processor_was_killed_outright_exits_too():
    """SIGKILL gives the processor no chance to stop its workers."""
    processor = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert processor.stdout is not None
        worker = int(processor.stdout.readline())
        assert Path(f"/proc/{worker}").exists()
    finally:
        processor.kill()
        processor.wait(WAIT_S)

    deadline = time.monotonic() + WAIT_S
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists(), "the worker outlived its processor"


KILLED_AT_START_SCRIPT = """
import multiprocessing, os, signal
from threadline.daemon.parse_workers import ParseAhead
from threadline.core.processor import QueuedItem
from tests.support.parsers import build_test_parsers

parsing = ParseAhead(build_test_parsers, workers=1, timeout=30.0)
parsing([QueuedItem(1, "test", b"x", None, 0)])
while not multiprocessing.active_children():
    pass
(worker,) = multiprocessing.active_children()
print(worker.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_worker_started_just_before_its_processor_was_killed_exits_too():
    """Killed before the worker has even begun: a worker that took the pid of its parent when
    it began would watch whoever adopted it, and live on."""
    processor = subprocess.run(
        [sys.executable, "-c", KILLED_AT_START_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert processor.returncode == -signal.SIGKILL, processor.stderr
    worker = int(processor.stdout)

    deadline = time.monotonic() + WAIT_S
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker), "the worker outlived its processor"


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever adopted it to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
