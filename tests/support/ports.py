"""Ports for the servers a test starts in another process (the daemon, PostgreSQL, Dovecot).

Such a port is chosen here and bound there, seconds later. A port the kernel hands out for
``bind(0)`` lies in its ephemeral range, from which every outgoing connection on the machine
(to PostgreSQL, to a fake API) also takes its local port: one of them can take it meanwhile,
and the server then fails with "Address already in use". So ports come from below that range,
where no outgoing connection goes, each checked free by binding it and never handed out twice
in a run.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

FIRST = 10_000
"""Below this, well-known services of the machine."""
_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_given: set[int] = set()
_random = random.Random()


def free_port(host: str = "127.0.0.1") -> int:
    (port,) = free_ports(1, host)
    return port


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ports: list[int] = []
    for _ in range(1000):
        if len(ports) == count:
            return ports
        port = _random.randrange(FIRST, _ephemeral_start())
        if port in _given:
            continue
        with socket.socket(family) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        _given.add(port)
        ports.append(port)
    raise RuntimeError(f"no {count} free ports between {FIRST} and {_ephemeral_start()}")


def _ephemeral_start() -> int:
    """Linux's; 32768 elsewhere, its default and the usual start of other systems' ranges."""
    try:
        return int(_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
