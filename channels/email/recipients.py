"""Which envelope recipients the listener takes mail for: ours, and nobody else's (no open relay).

Ours are every address of ``email.domains``, each of ``email.addresses``, and the desk's own
``email.address``, whose replies come back to it. A ``+tag`` in the local part (the reply token
of ``support+<token>@``) does not change whose address it is. Addresses compare case-insensitively
with IDNA domains, so ``Support@Bücher.example`` is ``support@xn--bcher-kva.example``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import idna

PLUS = "+"
T = TypeVar("T")


class InvalidRecipientSetting(ValueError):
    """A configured domain or address that no recipient could ever match; names its key."""


class RecipientPolicy:
    def __init__(self, domains: Iterable[str], addresses: Iterable[str], desk_address: str) -> None:
        """``desk_address``: the addr-spec of ``email.address``, without a display name."""
        self._domains = frozenset(_named("email.domains", domain_of, name) for name in domains)
        self._addresses = frozenset(
            _named(key, address_of, address)
            for key, values in (("email.addresses", addresses), ("email.address", [desk_address]))
            for address in values
        )

    def accepts(self, address: str) -> bool:
        """Whether ``address`` (an RCPT TO path, without brackets) is one of ours."""
        parsed = _split(address)
        if parsed is None:
            return False
        local, domain = parsed
        if domain in self._domains:
            return True
        base = local.split(PLUS, 1)[0]
        return (local, domain) in self._addresses or (base, domain) in self._addresses


def _split(address: str) -> tuple[str, str] | None:
    """Lower-cased local part and ASCII domain; None for what cannot be an address of ours
    (no domain, an address literal, a domain IDNA refuses)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return None
    try:
        ascii_domain = idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError:
        return None
    return local.lower(), ascii_domain.lower()


def domain_of(name: str) -> str:
    """The ASCII form of a configured domain; refuses what no recipient could match."""
    parsed = _split(f"x@{name.strip()}")
    if parsed is None:
        raise InvalidRecipientSetting(f"{name!r} is not a domain name")
    return parsed[1]


def address_of(address: str) -> tuple[str, str]:
    """Local part and ASCII domain of a configured address."""
    parsed = _split(address.strip())
    if parsed is None:
        raise InvalidRecipientSetting(f"{address!r} is not an address like support@example.com")
    return parsed


def _named(key: str, check: Callable[[str], T], value: str) -> T:
    try:
        return check(value)
    except InvalidRecipientSetting as error:
        raise InvalidRecipientSetting(f"{key}: {error}") from None
