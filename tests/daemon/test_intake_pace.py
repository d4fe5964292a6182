"""The processor's pace while items arrive, on a clock of the test's own."""

from __future__ import annotations

import pytest

from threadline.daemon.intake_pace import ARRIVING_BATCH, MAX_PAUSE_S, PAUSE_RATIO, IntakePace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_with_nothing_arriving_the_processor_runs_flat_out_on_full_batches():
    clock = Clock()
    pace = IntakePace(clock, clock.sleep)
    handled: list[str] = []
    after_batch = pace.batches(lambda: handled.append("batch"))

    clock.now += 0.05
    after_batch()

    assert (handled, clock.slept) == (["batch"], [])
    assert pace.batch_size(200) == 200


def test_while_items_arrive_it_takes_small_batches_and_pauses_after_each():
    clock = Clock()
    pace = IntakePace(clock, clock.sleep)
    after_batch = pace.batches(lambda: None)
    pace.accepted()

    clock.now += 0.01
    after_batch()
    pace.accepted()
    clock.now += 5.0
    pace.accepted()
    after_batch()

    assert clock.slept == pytest.approx([0.01 * PAUSE_RATIO, MAX_PAUSE_S])
    pace.accepted()
    assert pace.batch_size(200) == ARRIVING_BATCH
    assert pace.batch_size(10) == 10
    clock.now += 1.0
    assert pace.batch_size(200) == 200
