"""The daemon's HTTP side: /healthz for load balancers and systemd-minded operators, /metrics
for Prometheus, and the routes the channels serve (their webhooks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from sqlalchemy import Engine

from threadline.channels.component import Component, State, describe_error
from threadline.core.config_types import ListenAddress
from threadline.core.db import ping
from threadline.daemon.logs import redact_text
from threadline.daemon.metrics import ComponentStateCollector, make_registry

PING_TIMEOUT_S = 2.0
"""A database slower than this to answer ``SELECT 1`` is reported as unreachable."""

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DatabaseHealth:
    ok: bool
    error: str | None = None


class DatabaseProbe:
    """Pings the database in a worker thread, never on the event loop.

    Concurrent /healthz requests share one ping, so a database that hangs (a black-holed host
    waits for the TCP timeout) costs one thread, not one per request.
    """

    def __init__(self, engine: Engine, timeout: float = PING_TIMEOUT_S) -> None:
        self._engine = engine
        self._timeout = timeout
        self._ping: asyncio.Task[None] | None = None

    async def check(self) -> DatabaseHealth:
        if self._ping is None or self._ping.done():
            self._ping = asyncio.create_task(asyncio.to_thread(ping, self._engine))
            # Retrieves the outcome even if every waiter timed out, so asyncio never warns.
            self._ping.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._ping), self._timeout)
        except TimeoutError:
            return DatabaseHealth(False, f"no answer within {self._timeout:g} s")
        except Exception as error:
            return DatabaseHealth(False, redact_text(describe_error(error)))
        return DatabaseHealth(True)


class _Endpoints:
    def __init__(
        self,
        probe: DatabaseProbe,
        components: Sequence[Component],
        serving: Callable[[], bool],
        registry: CollectorRegistry,
    ) -> None:
        self._probe = probe
        self._components = components
        self._serving = serving
        registry.register(ComponentStateCollector(components))
        self._registry = registry

    async def healthz(self, _request: web.Request) -> web.Response:
        """200 only once every component serves, while the database answers and no component
        is failing, so a load balancer or monitor acts on the same signal an operator would."""
        database = await self._probe.check()
        components = {
            component.name: _component_report(component) for component in self._components
        }
        serving = self._serving()
        healthy = (
            serving
            and database.ok
            and all(component.state is not State.FAILING for component in self._components)
        )
        status = "ok" if healthy else "unavailable" if serving else "starting"
        body = {
            "status": status,
            "database": {"ok": True} if database.ok else {"ok": False, "error": database.error},
            "components": components,
        }
        _log.debug("healthz", status=body["status"], database_ok=database.ok)
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Rendered in a worker thread: the queue gauges read the database."""
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = await asyncio.to_thread(encoder, self._registry)
        return web.Response(body=body, headers={"Content-Type": content_type})


def make_app(
    engine: Engine,
    components: Sequence[Component],
    serving: Callable[[], bool] = lambda: True,
    routes: Sequence[web.RouteDef] = (),
    registry: CollectorRegistry | None = None,
) -> web.Application:
    """``serving``: every component has started (until then /healthz answers 503);
    ``routes``: the channels' webhooks; ``registry``: the daemon's metrics."""
    registry = registry or make_registry()
    endpoints = _Endpoints(DatabaseProbe(engine), components, serving, registry)
    app = web.Application()
    app.router.add_get("/healthz", endpoints.healthz)
    app.router.add_get("/metrics", endpoints.metrics)
    app.router.add_routes(routes)
    return app


class HttpServer:
    """Listening from :meth:`start` to :meth:`close`; the caller owns the signals."""

    def __init__(
        self, app: web.Application, listen: ListenAddress, shutdown_timeout: float
    ) -> None:
        self._listen = listen
        # No access log: /healthz is polled every few seconds and would drown the journal.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout
        )

    async def start(self) -> None:
        """Bind the listen address; raises OSError (address in use, not permitted)."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._listen.host, self._listen.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise

    async def close(self) -> None:
        """Stop accepting at once, then let requests in progress finish (bounded)."""
        await self._runner.cleanup()


def _component_report(component: Component) -> dict[str, str]:
    report = {"state": component.state.value}
    if component.last_error:
        report["last_error"] = redact_text(component.last_error)
    return report
