"""The Prometheus registry of one daemon: its own, so tests and future embedders never share
the process-global default registry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Info, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from threadline.channels.component import Component, State


class ComponentStateCollector(Collector):
    """``threadline_component_state{component, state}``: 1 for the current state, 0 for the
    others, read at scrape time so it never lags behind the runners."""

    def __init__(self, components: Sequence[Component]) -> None:
        self._components = components

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "threadline_component_state",
            "State of each daemon component (1 for its current state).",
            labels=["component", "state"],
        )
        for component in self._components:
            for state in State:
                family.add_metric([component.name, state.value], float(component.state is state))
        yield family


def make_registry(components: Sequence[Component]) -> CollectorRegistry:
    """Component states, build info, and the standard process metrics (including
    ``process_start_time_seconds``)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ComponentStateCollector(components))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    Info("threadline_build", "Version of the running threadline.", registry=registry).info(
        {"version": version("threadline")}
    )
    return registry
