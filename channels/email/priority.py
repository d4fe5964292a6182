"""How urgent the sender marked a mail: ``X-Priority`` (1 or 2), ``Importance: high``,
``Priority: urgent`` (RFC 2156); mail clients write one or another. Only a raise counts:
"low" or "normal" says nothing a desk should act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from threadline.channels.email.charsets import header_text


def priority(fields: Mapping[str, Sequence[str]]) -> str | None:
    """``urgent``, ``high`` or None, from the mail's header fields (lower-cased names)."""
    values = {
        name: header_text(found[0]).strip().lower()
        for name, found in fields.items()
        if name in ("x-priority", "importance", "priority") and found
    }
    if values.get("priority") == "urgent":
        return "urgent"
    x_priority = values.get("x-priority", "")[:1]
    if x_priority in ("1", "2") or values.get("importance") == "high":
        return "high"
    return None
