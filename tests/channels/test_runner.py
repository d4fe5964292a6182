"""The Runner loop: idle sleeps, wake-ups, backoff on failure, graceful stop, reported state."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable

from threadline.channels.component import State
from threadline.channels.runner import DEFAULT_BACKOFF, Runner
from threadline.core.backoff import Backoff

WAIT_S = 5.0
Step = Callable[[], Awaitable[bool]]


class ScriptedRunner(Runner):
    """Plays one step per iteration (the last one forever) and records when each began."""

    def __init__(
        self, steps: list[Step], interval: float = 5.0, backoff: Backoff = DEFAULT_BACKOFF
    ) -> None:
        super().__init__("scripted", interval=interval, backoff=backoff)
        self._steps = steps
        self.started_at: list[float] = []
        self.iteration = asyncio.Event()

    async def run_once(self) -> bool:
        self.started_at.append(time.monotonic())
        self.iteration.set()
        step = self._steps[min(len(self.started_at), len(self._steps)) - 1]
        return await step()

    async def wait_for_iterations(self, count: int) -> None:
        async def reached() -> None:
            while len(self.started_at) < count:
                self.iteration.clear()
                await self.iteration.wait()

        await asyncio.wait_for(reached(), WAIT_S)


async def idle() -> bool:
    return False


async def busy() -> bool:
    return True


async def broken() -> bool:
    raise ConnectionError("smtp.example.net refused the connection\nsecond line")


async def finish(runner: Runner, task: asyncio.Task[None]) -> None:
    runner.stop()
    await asyncio.wait_for(task, WAIT_S)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_idle_runner_waits_its_interval_before_looking_again() -> None:
    runner = ScriptedRunner([idle], interval=0.1)
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(3)
    await finish(runner, task)
    assert all(gap >= 0.09 for gap in gaps(runner.started_at))


async def test_busy_runner_goes_again_at_once() -> None:
    runner = ScriptedRunner([busy, busy, busy, idle], interval=60)
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(4)
    await finish(runner, task)
    assert runner.started_at[3] - runner.started_at[0] < 1


async def test_wake_ends_an_idle_wait_at_once() -> None:
    runner = ScriptedRunner([idle], interval=60)
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(1)
    await asyncio.sleep(0)
    runner.wake()
    await runner.wait_for_iterations(2)
    await finish(runner, task)
    assert runner.started_at[1] - runner.started_at[0] < 1


async def test_wake_during_an_iteration_is_not_lost() -> None:
    release = asyncio.Event()

    async def working() -> bool:
        await release.wait()
        return False

    runner = ScriptedRunner([working, idle], interval=60)
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(1)
    runner.wake()
    release.set()
    await runner.wait_for_iterations(2)
    await finish(runner, task)


async def test_backoff_grows_after_failures_and_resets_after_a_success() -> None:
    backoff = Backoff(initial=0.02, factor=10, maximum=10)
    runner = ScriptedRunner([broken, broken, busy, broken, idle], interval=60, backoff=backoff)
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(5)
    await finish(runner, task)

    after_first, after_second, after_success, after_reset = gaps(runner.started_at)
    assert 0.009 <= after_first < 0.1
    assert after_second >= 0.099  # the second step: 0.2 s with up to half of it as jitter
    assert after_success < 0.1
    assert after_reset < 0.1  # back to the first step, not the third (2 s)


def test_backoff_delay_doubles_with_jitter_up_to_its_maximum() -> None:
    backoff = Backoff(initial=1, factor=2, maximum=8)
    rng = random.Random(7)
    for failures, step in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (30, 8)]:
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(set(delays)) > 1


async def test_wake_does_not_cut_a_backoff_short() -> None:
    runner = ScriptedRunner([broken, idle], interval=60, backoff=Backoff(initial=0.4))
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(1)
    runner.wake()
    await runner.wait_for_iterations(2)
    await finish(runner, task)
    assert runner.started_at[1] - runner.started_at[0] >= 0.19


async def test_stop_ends_a_backoff_at_once() -> None:
    runner = ScriptedRunner([broken], backoff=Backoff(initial=60))
    task = asyncio.create_task(runner.run())
    await runner.wait_for_iterations(1)
    started = time.monotonic()
    await finish(runner, task)
    assert time.monotonic() - started < 1


async def test_stop_lets_the_iteration_in_flight_finish() -> None:
    in_flight = asyncio.Event()
    release = asyncio.Event()
    finished: list[bool] = []

    async def working() -> bool:
        in_flight.set()
        await release.wait()
        await asyncio.sleep(0.05)
        finished.append(True)
        return True

    runner = ScriptedRunner([working])
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(in_flight.wait(), WAIT_S)
    runner.stop()
    await asyncio.sleep(0.05)
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, WAIT_S)
    assert finished == [True]
    assert len(runner.started_at) == 1
    assert runner.state is State.STOPPED


async def test_state_follows_the_loop_and_keeps_the_last_error_until_a_success() -> None:
    gate = asyncio.Event()
    observed: list[tuple[State, str | None]] = []

    async def gated(outcome: Step) -> bool:
        observed.append((runner.state, runner.last_error))
        await gate.wait()
        gate.clear()
        return await outcome()

    async def first() -> bool:
        return await gated(idle)

    async def second() -> bool:
        return await gated(broken)

    async def third() -> bool:
        return await gated(idle)

    runner = ScriptedRunner([first, second, third], interval=60, backoff=Backoff(initial=0.01))
    assert runner.state is State.STARTING
    task = asyncio.create_task(runner.run())

    await runner.wait_for_iterations(1)
    gate.set()
    await _until(lambda: runner.state is State.IDLE)
    runner.wake()
    await runner.wait_for_iterations(2)
    gate.set()
    await _until(lambda: runner.state is State.FAILING)
    assert runner.last_error == "ConnectionError: smtp.example.net refused the connection"
    await runner.wait_for_iterations(3)
    gate.set()
    await _until(lambda: runner.state is State.IDLE)
    assert runner.last_error is None
    await finish(runner, task)

    assert runner.state is State.STOPPED
    assert observed == [
        (State.BUSY, None),
        (State.BUSY, None),
        # A retry after a failure stays "failing" until it succeeds.
        (State.FAILING, "ConnectionError: smtp.example.net refused the connection"),
    ]


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), WAIT_S)


async def test_a_runner_stopped_before_it_starts_never_runs() -> None:
    runner = ScriptedRunner([busy])
    runner.stop()
    await asyncio.wait_for(runner.run(), WAIT_S)
    assert runner.started_at == []
    assert runner.state is State.STOPPED
