"""Value types shared by every settings section, wherever the section lives.

They are in core because channels and daemon both declare sections and imports only flow
towards core.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any

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
