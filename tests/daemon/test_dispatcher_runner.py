"""The dispatcher runner: sweeps on its interval, and a commit in any thread wakes it at once
through the hub."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from tests.support.outbox import RecordingSender, enqueued, reply
from threadline.channels.component import State
from threadline.core.dispatcher import Dispatcher
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings
from threadline.daemon.dispatcher_runner import DispatcherRunner
from threadline.daemon.wake_hub import Topic, WakeHub

WAIT_S = 5.0
SLEEPY = 60.0
"""A sweep interval no test waits out: only a wake-up can get a row sent in time."""


def dispatcher_runner(sessions: sessionmaker[Session], sender: RecordingSender) -> DispatcherRunner:
    senders = SenderRegistry()
    senders.register("test", sender)
    return DispatcherRunner(Dispatcher(sessions, senders, DispatchSettings()), SLEEPY)


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), WAIT_S)
    except TimeoutError:
        raise AssertionError(f"not within {WAIT_S}s: {what}") from None


async def test_a_commit_in_a_worker_thread_wakes_the_idle_dispatcher(
    sessions: sessionmaker[Session],
):
    # Debug mode makes asyncio refuse calls from a foreign thread instead of losing them.
    asyncio.get_running_loop().set_debug(True)
    sender = RecordingSender()
    hub = WakeHub()
    hub.bind(asyncio.get_running_loop())
    runner = dispatcher_runner(sessions, sender)
    hub.subscribe(Topic.OUTBOX, runner.wake)
    await runner.start()
    await until(lambda: runner.state is State.IDLE, "the runner went idle")

    def processor_commit() -> None:
        enqueued(sessions, reply("reply:1:a@b.c"))
        hub.wake(Topic.OUTBOX)

    thread = threading.Thread(target=processor_commit)
    thread.start()
    await until(lambda: len(sender.sent) == 1, "the row was sent")

    await runner.close(WAIT_S)
    assert runner.state is State.STOPPED
    thread.join(WAIT_S)


async def test_rows_waiting_at_startup_are_sent_by_the_first_sweep(
    sessions: sessionmaker[Session],
):
    enqueued(sessions, reply("reply:1:a@b.c"), reply("reply:2:a@b.c"))
    sender = RecordingSender()
    runner = dispatcher_runner(sessions, sender)
    await runner.start()

    await until(lambda: len(sender.sent) == 2, "both rows were sent")
    await until(lambda: runner.state is State.IDLE, "the runner went idle")
    await runner.close(WAIT_S)


def test_a_wake_before_the_loop_runs_or_after_it_closed_is_harmless(
    sessions: sessionmaker[Session],
):
    hub = WakeHub()
    hub.wake(Topic.OUTBOX)  # nothing bound yet: nothing to wake, and no error

    async def serve_briefly() -> None:
        hub.bind(asyncio.get_running_loop())
        runner = dispatcher_runner(sessions, RecordingSender())
        hub.subscribe(Topic.OUTBOX, runner.wake)
        await runner.start()
        await until(lambda: runner.state is State.IDLE, "the runner went idle")
        await runner.close(WAIT_S)

    asyncio.run(serve_briefly())

    threading.Thread(target=hub.wake, args=(Topic.OUTBOX,)).start()
