"""Stopping the supervisor: in-flight work finishes, but never past ``daemon.shutdown_timeout``."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Engine

from tests.support.daemon import free_port
from threadline.channels.component import State
from threadline.channels.runner import Runner
from threadline.core.db import ping
from threadline.daemon.settings import Settings, settings_model
from threadline.daemon.supervisor import Supervisor
from threadline.daemon.wake_hub import WakeHub
from threadline.daemon.wiring import Assembly

WAIT_S = 5.0
pytestmark = pytest.mark.usefixtures("restore_logging")


class OneSlowBatch(Runner):
    """Takes ``seconds`` over its first batch, part of it in the database, then idles."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        super().__init__("slow", interval=60)
        self._engine = engine
        self._seconds = seconds
        self.in_flight = asyncio.Event()
        self.finished = False

    async def run_once(self) -> bool:
        if self.finished:
            return False
        self.in_flight.set()
        await asyncio.sleep(self._seconds)
        await asyncio.to_thread(ping, self._engine)
        self.finished = True
        return True


def settings_for(db_url: str, shutdown_timeout: float) -> Settings:
    return settings_model().model_validate(
        {
            "database": {"url": db_url},
            "http": {"listen": f"127.0.0.1:{free_port()}"},
            "smtp": {"listen": f"127.0.0.1:{free_port()}"},
            "logging": {"format": "json"},
            "daemon": {"shutdown_timeout": shutdown_timeout},
        }
    )


async def start(
    db_url: str, shutdown_timeout: float, batch_seconds: float
) -> tuple[Supervisor, asyncio.Task[None], list[OneSlowBatch]]:
    built: list[OneSlowBatch] = []

    def assemble(_settings: Settings, engine: Engine, _hub: WakeHub) -> Assembly:
        built.append(OneSlowBatch(engine, batch_seconds))
        return Assembly([built[-1]], [])

    supervisor = Supervisor(settings_for(db_url, shutdown_timeout), None, assemble, environ={})
    task = asyncio.create_task(supervisor.run())
    async with asyncio.timeout(WAIT_S):
        while not built:
            await asyncio.sleep(0.01)
        await built[0].in_flight.wait()
    return supervisor, task, built


async def test_stop_waits_for_the_batch_in_flight(db_url: str) -> None:
    supervisor, task, (runner,) = await start(db_url, shutdown_timeout=5, batch_seconds=0.3)
    supervisor.request_stop()
    await asyncio.wait_for(task, WAIT_S)
    assert runner.finished
    assert runner.state is State.STOPPED


async def test_stop_cancels_work_that_outlives_the_shutdown_timeout(db_url: str) -> None:
    supervisor, task, (runner,) = await start(db_url, shutdown_timeout=0.3, batch_seconds=60)
    stopping = time.monotonic()
    supervisor.request_stop()
    await asyncio.wait_for(task, WAIT_S)
    assert time.monotonic() - stopping < 2
    assert not runner.finished
    assert runner.state is State.STOPPED
