"""When ``threadline run`` says it is ready, it is: /healthz answers 503 ("starting") until every
component serves, and systemd hears READY=1 at that moment, not before. A load balancer, a
newcomer's ``curl`` and this suite may all trust the first 200."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import collect, free_port
from tests.support.messages import email
from threadline.channels import normalized
from threadline.channels.component import State
from threadline.core.intake import Intake, RawItem
from threadline.daemon.settings import settings_model
from threadline.daemon.supervisor import Supervisor
from threadline.daemon.wiring import Assembly

START_S = 30.0
BACKLOG = 300


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """Two busy processes, one per core of the CI machine: startup competes for the CPU."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(timeout=5)


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def health(daemon: Any) -> tuple[int, str] | None:
    try:
        status, body = daemon.get("/healthz")
    except OSError:
        return None
    return status, json.loads(body)["status"]


@pytest.mark.usefixtures("cpu_load")
def test_healthz_is_503_until_every_component_serves_and_ready_comes_with_the_first_200(
    start_daemon: Any,
    db_url: str,
    sessions: sessionmaker[Session],
    notify_socket: tuple[str, socket.socket],
) -> None:
    # A backlog the processor starts on at once: its work must not hold readiness back.
    Intake(sessions).accept_many(
        [
            RawItem("normalized", f"k{n}", normalized.encode(email("a@x.example", f"<{n}@x>")))
            for n in range(BACKLOG)
        ]
    )
    address, sock = notify_socket
    sock.settimeout(0.01)
    smtp = free_port()
    daemon = start_daemon(
        db_url,
        env={"NOTIFY_SOCKET": address, "THREADLINE_SMTP__LISTEN": f"127.0.0.1:{smtp}"},
        wait=False,
    )
    seen: list[tuple[int, str]] = []
    ready = False
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and not (ready and seen and seen[-1][0] == 200):
        assert daemon.process.poll() is None, daemon.stderr
        try:
            ready = ready or "READY=1" in sock.recv(4096).decode().splitlines()
            if ready:
                # Told systemd it is ready: the listener must be bound already.
                assert accepts(smtp), "READY=1 before the SMTP listener was bound"
        except TimeoutError:
            pass
        answer = health(daemon)
        if answer is None:
            continue
        seen.append(answer)
        status, word = answer
        assert (status == 503) == (word in ("starting", "unavailable")), answer
        if status == 200:
            assert accepts(smtp), "/healthz said ok before the SMTP listener was bound"
        if word == "starting":
            assert not ready, "READY=1 sent while /healthz still says starting"
    assert ready, f"no READY=1 within {START_S} s: {daemon.stderr}"
    assert seen, "never answered"
    assert seen[-1] == (200, "ok"), seen
    assert daemon.stop() == 0


class SlowToStart:
    """A component that serves only once the test lets it."""

    name = "slow"
    last_error = None

    def __init__(self) -> None:
        self.state = State.STARTING
        self.release = asyncio.Event()

    async def start(self) -> None:
        await self.release.wait()
        self.state = State.IDLE

    async def close(self, timeout: float) -> None:
        self.state = State.STOPPED


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_while_a_component_is_still_starting_healthz_says_so_and_systemd_waits(
    db_url: str, notify_socket: tuple[str, socket.socket]
) -> None:
    address, sock = notify_socket
    port = free_port()
    settings = settings_model().model_validate(
        {
            "database": {"url": db_url},
            "http": {"listen": f"127.0.0.1:{port}"},
            "logging": {"format": "json"},
        }
    )
    slow = SlowToStart()
    supervisor = Supervisor(
        settings, None, lambda *_: Assembly([slow], []), environ={"NOTIFY_SOCKET": address}
    )
    task = asyncio.create_task(supervisor.run())
    try:
        answer = await until_answered(port)
        assert answer == (503, "starting")
        assert "READY=1" not in await asyncio.to_thread(received, sock)

        slow.release.set()

        assert "READY=1" in await asyncio.to_thread(received, sock, "READY=1")
        assert await until_answered(port) == (200, "ok")
    finally:
        supervisor.request_stop()
        await asyncio.wait_for(task, 10)


async def until_answered(port: int) -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession() as client, asyncio.timeout(START_S):
        while True:
            try:
                async with client.get(url) as response:
                    return response.status, (await response.json())["status"]
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)


def received(sock: socket.socket, wanted: str | None = None) -> list[str]:
    """What the daemon told systemd: until ``wanted`` came (bounded), else for a moment."""
    seen: list[str] = []
    collect(sock, seen, lambda seen: wanted in seen, timeout=START_S if wanted else 0.5)
    return seen
