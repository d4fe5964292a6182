"""Which envelope recipients the listener takes mail for: ours, and nobody else's (no open relay).

Ours are every address of ``email.domains``, each of ``email.addresses``, and the desk's own
``email.address``, whose replies come back to it. A ``+tag`` in the local part (the reply token
of ``support+<token>@``) does not change whose address it is. Addresses compare case-insensitively
with IDNA domains, so ``Support@Bücher.example`` is ``support@xn--bcher-kva.example``.
"""

from __future__ import annotations

from collections.abc import Iterable

import idna

PLUS = "+"


class InvalidRecipientSetting(ValueError):
    """A configured domain or address that no recipient could ever match; names its key."""


class RecipientPolicy:
    def __init__(self, domains: Iterable[str], addresses: Iterable[str], desk_address: str) -> None:
        self._domains = frozenset(_setting_domain("email.domains", name) for name in domains)
        self._addresses = frozenset(
            _setting_address(key, address)
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


def _setting_domain(key: str, name: str) -> str:
    parsed = _split(f"x@{name.strip()}")
    if parsed is None:
        raise InvalidRecipientSetting(f"{key}: {name!r} is not a domain name")
    return parsed[1]


def _setting_address(key: str, address: str) -> tuple[str, str]:
    parsed = _split(address.strip())
    if parsed is None:
        raise InvalidRecipientSetting(
            f"{key}: {address!r} is not an address like support@example.com"
        )
    return parsed
