"""Value types shared by every settings section, wherever the section lives.

They are in core because channels and daemon both declare sections and imports only flow
towards core.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer


@dataclass(frozen=True)
class Secret:
    """Field marker (``Annotated[str, Secret()]``): the value may come from ``<key>_file`` or a
    systemd credential, and is never logged."""


@dataclass(frozen=True)
class ListenAddress:
    """A host and port to bind; IPv6 hosts are written in brackets (``[::1]:8080``)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def parse(cls, value: Any) -> ListenAddress:
        if isinstance(value, ListenAddress):
            return value
        if not isinstance(value, str):
            raise ValueError("expected a string HOST:PORT, e.g. 127.0.0.1:8080")
        host, sep, port_text = value.strip().rpartition(":")
        if not sep or not host:
            raise ValueError(f"expected HOST:PORT, e.g. 127.0.0.1:8080, got {value!r}")
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f"unclosed bracket in {value!r}")
            host = host[1:-1]
            ipaddress.IPv6Address(host)
        elif ":" in host:
            raise ValueError(f"write IPv6 hosts in brackets, e.g. [::1]:8080, got {value!r}")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"port must be a number from 1 to 65535, got {port_text!r}")
        return cls(host, int(port_text))


Listen = Annotated[
    ListenAddress,
    BeforeValidator(ListenAddress.parse),
    PlainSerializer(str, return_type=str),
]


MAX_PROCESSES = 64
AUTO_PROCESSES = 2
"""Enough to keep up with the one core the daemon's own work keeps busy: a parse worker takes
about as long over an item as the processor storing it."""


def _count_or_auto(value: object) -> object:
    """One message for a bad value, rather than one per member of the union; a count may come
    from the environment, as text."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if value == "auto" or (type(value) is int and 0 <= value <= MAX_PROCESSES):
        return value
    raise ValueError(f'a number of processes from 0 to {MAX_PROCESSES}, or "auto"')


Processes = Annotated[int | Literal["auto"], BeforeValidator(_count_or_auto)]
"""Helper processes (``core/worker_processes.py``); 0: the work is done in the daemon itself."""


def process_count(processes: int | Literal["auto"]) -> int:
    """``auto``: one per CPU this process may use beyond the one its own work keeps busy, up to
    :data:`AUTO_PROCESSES`."""
    if processes != "auto":
        return processes
    return min(len(os.sched_getaffinity(0)) - 1, AUTO_PROCESSES)
