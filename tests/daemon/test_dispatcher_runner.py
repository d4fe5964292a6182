"""The dispatcher runner: sweeps on its interval, and an enqueue in any thread wakes it at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import RecordingSender, enqueued, reply
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings
from threadline.daemon.component import State
from threadline.daemon.dispatcher_runner import DispatcherFactory
from threadline.daemon.settings import Settings

WAIT_S = 5.0
SLEEPY = Settings(dispatch=DispatchSettings(sweep_interval=60.0))
"""An interval no test waits out: only a wake-up can get a row sent in time."""


def factory_for(sender: RecordingSender) -> DispatcherFactory:
    senders = SenderRegistry()
    senders.register("test", sender)
    return DispatcherFactory(lambda _settings, _sessions: senders)


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT_S}s: {what}") from None


async def test_an_enqueue_committed_in_a_worker_thread_wakes_the_idle_dispatcher(
    engine: Engine, sessions: sessionmaker[Session]
):
    # Debug mode makes asyncio refuse calls from a foreign thread instead of losing them.
    asyncio.get_running_loop().set_debug(True)
    sender = RecordingSender()
    dispatch = factory_for(sender)
    runner = dispatch(SLEEPY, engine)
    assert (runner.name, runner.interval) == ("dispatcher", 60.0)
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.state is State.IDLE, "the runner went idle")

    def processor_commit() -> None:
        enqueued(sessions, reply("reply:1:a@b.c"))
        dispatch.wake()

    thread = threading.Thread(target=processor_commit)
    thread.start()
    await until(lambda: len(sender.sent) == 1, "the row was sent")

    runner.stop()
    await asyncio.wait_for(task, WAIT_S)
    thread.join(WAIT_S)


async def test_rows_waiting_at_startup_are_sent_by_the_first_sweep(
    engine: Engine, sessions: sessionmaker[Session]
):
    enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:a@b.c"))
    sender = RecordingSender()
    dispatch = factory_for(sender)
    dispatch.wake()  # before the daemon built the runner: nothing to wake, and no error
    runner = dispatch(SLEEPY, engine)
    task = asyncio.create_task(runner.run())

    await until(lambda: len(sender.sent) == 2, "both rows were sent")
    await until(lambda: runner.state is State.IDLE, "the runner went idle")
    runner.stop()
    await asyncio.wait_for(task, WAIT_S)


def test_a_wake_after_shutdown_is_harmless(engine: Engine):
    dispatch = factory_for(RecordingSender())

    async def serve_briefly() -> None:
        runner = dispatch(SLEEPY, engine)
        task = asyncio.create_task(runner.run())
        await until(lambda: runner.state is State.IDLE, "the runner went idle")
        runner.stop()
        await asyncio.wait_for(task, WAIT_S)

    asyncio.run(serve_briefly())

    dispatch.wake()
