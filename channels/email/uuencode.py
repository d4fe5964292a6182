"""uuencoded files: older clients (and some scanners and gateways) still send them, as
``x-uuencode`` parts or as ``begin 644 name`` blocks inside the text."""

from __future__ import annotations

import binascii
import re

from threadline.core.normalized import InboundAttachment

_BLOCK = re.compile(
    rb"^begin[ \t]+[0-7]{3,4}[ \t]+([^\r\n]+?)[ \t]*\r?\n(.*?)^end[ \t]*$\r?\n?",
    re.MULTILINE | re.DOTALL,
)
_CONTENT_TYPE = "application/octet-stream"


def has_block(data: bytes) -> bool:
    """Cheap test before the search: most text has no ``begin`` line at all."""
    return data.startswith(b"begin ") or b"\nbegin " in data


def extract(data: bytes) -> tuple[bytes, list[InboundAttachment]]:
    """The data without its uuencoded blocks, and the files they held."""
    files = [
        InboundAttachment(_filename(match[1]), _CONTENT_TYPE, decode(match[2]))
        for match in _BLOCK.finditer(data)
    ]
    return (_BLOCK.sub(b"", data) if files else data), files


def decode(block: bytes) -> bytes:
    """The lines between ``begin`` and ``end``; a damaged line is decoded as far as it goes
    instead of failing the file (the same leniency as stdlib's decoder)."""
    decoded = []
    for line in block.splitlines():
        if not line or line in (b"`", b" "):
            continue
        try:
            decoded.append(binascii.a2b_uu(line))
        except binascii.Error:
            nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                decoded.append(binascii.a2b_uu(line[:nbytes]))
            except binascii.Error:
                continue
    return b"".join(decoded)


def _filename(raw: bytes) -> str:
    name = raw.decode("utf-8", "replace").strip().strip('"')
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "attachment.bin"
