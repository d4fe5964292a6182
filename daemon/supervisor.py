"""The one asyncio process of ``threadline run``: start everything in order, serve until a
signal, then drain within ``daemon.shutdown_timeout``.

Startup refuses early and in one line (schema not migrated, SQLite already in use, port taken)
so systemd's ``Restart=on-failure`` loop shows the operator the reason in ``systemctl status``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from threadline.channels.component import Service, StartupError, describe_error
from threadline.core.config_types import ListenAddress
from threadline.core.db import make_engine
from threadline.core.lease_recovery import release_all
from threadline.core.migrate import current_revision, head_revision
from threadline.core.models import InboundItem, OutboxItem
from threadline.daemon import instance_lock
from threadline.daemon.config import ConfigError, load_settings
from threadline.daemon.http_server import HttpServer, make_app
from threadline.daemon.logs import configure_logging, redact_text, set_level
from threadline.daemon.sdnotify import Notifier, watchdog_interval
from threadline.daemon.settings import Settings
from threadline.daemon.wake_hub import WakeHub
from threadline.daemon.wiring import Assembly

Assemble = Callable[[Settings, Engine, WakeHub], Assembly]
"""Builds what the daemon serves once the database is open (``wiring.assemble``)."""

_log = structlog.get_logger(__name__)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        config_path: Path | None,
        assemble: Assemble,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._settings = settings
        self._config_path = config_path
        self._assemble = assemble
        self._environ = environ
        self._notifier = Notifier(environ)
        self._stop_requested = asyncio.Event()
        self._reloads: set[asyncio.Task[None]] = set()
        self._serving = False

    def request_stop(self) -> None:
        """What SIGTERM and SIGINT do; safe to call before or during startup."""
        self._stop_requested.set()

    async def run(self) -> None:
        """Serve until :meth:`request_stop`; raises StartupError if the daemon cannot start."""
        configure_logging(self._settings.logging)
        engine = make_engine(self._settings.database.url, self._settings.database.pool_size)
        loop = asyncio.get_running_loop()
        handled = {signal.SIGTERM: self._on_stop_signal, signal.SIGINT: self._on_stop_signal}
        handled[signal.SIGHUP] = self._on_reload_signal
        lock: instance_lock.InstanceLock | None = None
        try:
            for signum, handler in handled.items():
                loop.add_signal_handler(signum, handler, signum)
            try:
                lock = instance_lock.acquire(self._settings.database.url)
            except instance_lock.InstanceLocked as error:
                raise StartupError(str(error)) from None
            await asyncio.to_thread(_check_schema, engine)
            if lock is not None:
                await asyncio.to_thread(_release_leases, engine)
            hub = WakeHub()
            hub.bind(loop)
            assembly = await asyncio.to_thread(self._assemble, self._settings, engine, hub)
            await self._serve(engine, assembly)
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
            await asyncio.to_thread(engine.dispose)
            if lock is not None:
                lock.release()

    async def _serve(self, engine: Engine, assembly: Assembly) -> None:
        listen = self._settings.http.listen
        timeout = self._settings.daemon.shutdown_timeout
        services = assembly.services
        app = make_app(engine, services, lambda: self._serving, assembly.routes, assembly.registry)
        http = HttpServer(app, listen, timeout)
        # First, so that /healthz answers 503 while the rest starts.
        await _bind("http.listen", listen, http.start())
        started: list[Service] = []
        try:
            for service in services:
                await service.start()
                started.append(service)
        except BaseException:
            await asyncio.gather(http.close(), *(s.close(timeout) for s in started))
            raise
        watchdog = self._start_watchdog()
        self._serving = True
        self._notifier.notify("READY=1", f"STATUS=serving on {listen}")
        _log.info(
            "threadline started",
            listen=str(listen),
            database=self._settings.database.url,
            components=[service.name for service in services],
        )
        await self._stop_requested.wait()
        self._serving = False
        self._notifier.notify("STOPPING=1", "STATUS=draining")
        _log.info("threadline stopping", shutdown_timeout=timeout)
        if watchdog is not None:
            watchdog.cancel()
        # All bounded by the same timeout, so together they take no longer than it.
        await asyncio.gather(http.close(), *(service.close(timeout) for service in services))
        _log.info("threadline stopped")

    def _start_watchdog(self) -> asyncio.Task[None] | None:
        interval = watchdog_interval(self._environ)
        if interval is None:
            return None
        return asyncio.create_task(self._ping_watchdog(interval), name="watchdog")

    async def _ping_watchdog(self, interval: float) -> None:
        """Pings from the event loop itself: if the loop is blocked, the pings stop and systemd
        restarts the daemon, which is the point of the watchdog."""
        while True:
            self._notifier.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def _on_stop_signal(self, signum: int) -> None:
        _log.info("signal received", signal=signal.Signals(signum).name)
        self.request_stop()

    def _on_reload_signal(self, _signum: int) -> None:
        task = asyncio.create_task(self._reload_log_level())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload_log_level(self) -> None:
        """SIGHUP: the new ``logging.level`` applies at once; other settings need a restart.
        A file that became invalid changes nothing, so a typo cannot silence the logs."""
        try:
            settings = await asyncio.to_thread(load_settings, self._config_path, self._environ)
        except ConfigError as error:
            _log.error(
                "configuration reload failed, keeping the current log level",
                problems=error.problems,
            )
            return
        set_level(settings.logging.level)
        _log.info(
            "configuration reloaded",
            log_level=settings.logging.level,
            note="only logging.level applies without a restart",
        )


def _check_schema(engine: Engine) -> None:
    try:
        current = current_revision(engine)
    except SQLAlchemyError as error:
        raise StartupError(f"database unreachable: {redact_text(describe_error(error))}") from None
    expected = head_revision(engine)
    if current != expected:
        raise StartupError(
            f"database schema is at {current or 'no revision (empty database)'}, expected "
            f"{expected}: run `threadline db upgrade`"
        )


def _release_leases(engine: Engine) -> None:
    """SQLite: the instance lock proves that no other process holds a lease, so the leases a
    killed daemon left are due now rather than when they expire."""
    with engine.begin() as connection:
        released = release_all(connection, (InboundItem.__table__, OutboxItem.__table__))
    if released:
        _log.info("leases of a daemon that ended without releasing them are free", rows=released)


async def _bind(key: str, address: ListenAddress, start: Awaitable[None]) -> None:
    try:
        await start
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise StartupError(f"cannot listen on {key} {address}: {reason}") from None
