"""/healthz and /metrics on a real listening server, against real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from tests.support.daemon import free_port
from threadline.channels.component import Component, State
from threadline.channels.runner import Runner
from threadline.core.backoff import Backoff
from threadline.core.config_types import ListenAddress
from threadline.core.db import make_engine
from threadline.daemon.http_server import HttpServer, make_app

PASSWORD = "Hunter2-do-not-show"
Serve = Callable[[Engine, Sequence[Component]], Awaitable[str]]


class IdleRunner(Runner):
    async def run_once(self) -> bool:
        return False


class BrokenRunner(Runner):
    async def run_once(self) -> bool:
        raise ConnectionError(f"cannot reach postgresql://agent:{PASSWORD}@db.internal/desk")


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers on free loopback ports; returns each one's base URL."""
    servers: list[HttpServer] = []

    async def start(
        engine: Engine, components: Sequence[Component], host: str = "127.0.0.1"
    ) -> str:
        listen = ListenAddress(host, free_port(host))
        server = HttpServer(make_app(engine, components), listen, shutdown_timeout=2)
        await server.start()
        servers.append(server)
        return f"http://{listen}"

    yield start
    for server in servers:
        await server.close()


async def get(url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


@pytest.fixture
def unreachable_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        return f"sqlite:///{tmp_path}"
    return f"postgresql+psycopg://threadline:{PASSWORD}@127.0.0.1:{free_port()}/threadline"


async def test_healthz_is_200_when_the_database_answers(engine: Engine, serve: Serve) -> None:
    runner = IdleRunner("processor")
    base = await serve(engine, [runner])
    assert await get(f"{base}/healthz") == (
        200,
        {
            "status": "ok",
            "database": {"ok": True},
            "components": {"processor": {"state": "starting"}},
        },
    )


async def test_healthz_is_503_when_the_database_is_unreachable(
    unreachable_url: str, serve: Serve
) -> None:
    engine = make_engine(unreachable_url)
    try:
        base = await serve(engine, [])
        status, body = await get(f"{base}/healthz")
    finally:
        engine.dispose()
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert body["database"]["error"]
    assert PASSWORD not in str(body)


async def test_healthz_is_503_while_a_component_is_failing(engine: Engine, serve: Serve) -> None:
    idle, broken = IdleRunner("dispatcher"), BrokenRunner("processor", backoff=Backoff(60))
    tasks = [asyncio.create_task(runner.run()) for runner in (idle, broken)]
    try:
        base = await serve(engine, [idle, broken])
        while broken.state is not State.FAILING or idle.state is not State.IDLE:
            await asyncio.sleep(0.01)
        status, body = await get(f"{base}/healthz")
    finally:
        for runner in (idle, broken):
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert status == 503
    assert body["database"] == {"ok": True}
    assert body["components"] == {
        "dispatcher": {"state": "idle"},
        "processor": {
            "state": "failing",
            "last_error": "ConnectionError: cannot reach postgresql://agent:***@db.internal/desk",
        },
    }


async def test_metrics_are_prometheus_text_with_component_states(
    engine: Engine, serve: Serve
) -> None:
    base = await serve(engine, [IdleRunner("processor")])
    status, text = await get(f"{base}/metrics")
    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(text)}

    states = {
        sample.labels["state"]: sample.value
        for sample in families["threadline_component_state"].samples
        if sample.labels["component"] == "processor"
    }
    assert states == {state.value: float(state is State.STARTING) for state in State}
    assert families["process_start_time_seconds"].samples[0].value > 0
    assert families["threadline_build_info"].samples[0].labels["version"]


async def test_serves_on_ipv6_loopback(engine: Engine, serve: Serve) -> None:
    base = await serve(engine, [], "::1")
    assert (await get(f"{base}/healthz"))[0] == 200
