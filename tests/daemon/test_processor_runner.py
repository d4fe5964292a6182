"""The processor runner: woken at once by an accept in this process, sweeping on its interval
for items other processes accepted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from tests.support.handlers import store_message
from threadline.channels.component import State
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem
from threadline.core.outcome import Outcome
from threadline.core.processor import Processor, QueuedItem, one_at_a_time
from threadline.core.settings import IntakeSettings
from threadline.daemon.processor_runner import ProcessorRunner, processor_runner
from threadline.daemon.settings import Settings, settings_model
from threadline.daemon.wake_hub import Topic, WakeHub

WAIT_S = 5.0


async def wait_for_status(sessions: sessionmaker[Session], item_id: int, status: str) -> float:
    """Seconds until the item reached ``status``."""
    started = time.monotonic()
    while time.monotonic() - started < WAIT_S:
        with sessions() as session:
            if session.get_one(InboundItem, item_id).status == status:
                return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"item {item_id} not {status} within {WAIT_S} s")


async def wait_for_state(runner: ProcessorRunner, state: State) -> None:
    async def reached() -> None:
        while runner.state is not state:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(reached(), WAIT_S)


def make_runner(sessions: sessionmaker[Session], interval: float) -> ProcessorRunner:
    return ProcessorRunner(
        Processor(sessions, one_at_a_time(store_message), IntakeSettings()), interval
    )


async def test_an_accept_in_this_process_wakes_the_idle_processor_at_once(
    sessions: sessionmaker[Session],
):
    runner = make_runner(sessions, interval=60)
    hub = WakeHub()
    hub.bind(asyncio.get_running_loop())
    hub.subscribe(Topic.INTAKE, runner.wake)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for_state(runner, State.IDLE)
        intake = Intake(sessions, on_accepted=lambda _channels: hub.wake(Topic.INTAKE))

        accepted = await asyncio.to_thread(intake.accept, RawItem("email", "k", b"hello"))

        assert await wait_for_status(sessions, accepted.id, "done") < 2
    finally:
        runner.stop()
        await asyncio.wait_for(task, WAIT_S)


async def test_items_accepted_elsewhere_are_found_by_the_sweep(sessions: sessionmaker[Session]):
    runner = make_runner(sessions, interval=0.2)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for_state(runner, State.IDLE)

        accepted = await asyncio.to_thread(Intake(sessions).accept, RawItem("email", "k", b"hello"))

        await wait_for_status(sessions, accepted.id, "done")
    finally:
        runner.stop()
        await asyncio.wait_for(task, WAIT_S)


async def test_the_factory_builds_the_processor_whose_context_ends_with_the_runner(
    sessions: sessionmaker[Session],
):
    events: list[str] = []

    @contextmanager
    def build(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Processor]:
        events.append("built")
        yield Processor(sessions, one_at_a_time(store_message), settings.intake)
        events.append("ended")

    settings = settings_model()()

    runner = processor_runner(build, settings, sessions)

    assert (runner.name, runner.interval) == ("processor", None)
    assert events == ["built"]
    task = asyncio.create_task(runner.run())
    await wait_for_state(runner, State.IDLE)
    runner.stop()
    await asyncio.wait_for(task, WAIT_S)
    assert events == ["built", "ended"]


async def test_a_stop_ends_a_drain_after_the_batch_in_hand_leaving_nothing_leased(
    sessions: sessionmaker[Session],
):
    """The drain claims each batch before handling the one ahead of it: a stop lets both
    finish and claims no more, so a restart finds the rest due at once."""
    ids = [
        a.id
        for a in Intake(sessions).accept_many(
            [RawItem("email", f"k{n}", f"m{n}".encode()) for n in range(20)]
        )
    ]
    loop = asyncio.get_running_loop()
    stopped = threading.Event()
    woken: list[int] = []

    def stop_during_the_first_batch(session: Session, item: QueuedItem) -> Outcome:
        if not stopped.is_set():
            loop.call_soon_threadsafe(lambda: (runner.stop(), stopped.set()))
            assert stopped.wait(WAIT_S)
        return store_message(session, item)

    runner = ProcessorRunner(
        Processor(
            sessions, one_at_a_time(stop_during_the_first_batch), IntakeSettings(batch_size=4)
        ),
        interval=60,
        on_handled=lambda: woken.append(1),
    )

    await asyncio.wait_for(runner.run(), WAIT_S)

    with sessions() as session:
        rows = [session.get_one(InboundItem, i) for i in ids]
        assert [r.status for r in rows] == ["done"] * 8 + ["pending"] * 12
        assert {r.lease_owner for r in rows} == {None}
    assert len(woken) == 2, "the dispatcher is woken after each committed batch"
