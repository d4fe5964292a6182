"""ISO-2022-JP as Windows writes it (code page 50221): JIS X 0208 plus NEC's special characters
(circled numbers, Roman numerals, ㈱) and the NEC-selected IBM extensions, and half-width
katakana after ``ESC ( I``. Japanese Outlook sends this under the label ``iso-2022-jp``, which
Python's strict codec refuses at the first such character; Python has no codec of this name.

Each JIS pair is moved to its Shift_JIS position and the whole decoded as ``cp932``, which holds
the same extensions, so the tables are Python's own.
"""

from __future__ import annotations

import codecs

NAME = "cp50221"
_ESCAPES = {b"(B": "ascii", b"(J": "ascii", b"(I": "kana", b"$@": "jis", b"$B": "jis"}


def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    data = bytes(data)
    shift_jis = bytearray()
    mode, position, end = "ascii", 0, len(data)
    while position < end:
        byte = data[position]
        if byte == 0x1B:
            mode_after = _ESCAPES.get(data[position + 1 : position + 3])
            if mode_after is None:
                raise UnicodeDecodeError(NAME, data, position, position + 1, "unknown escape")
            mode, position = mode_after, position + 3
            continue
        if byte in (0x0E, 0x0F):  # SO/SI: katakana in and out, as code page 50222 writes it
            mode, position = ("kana" if byte == 0x0E else "ascii"), position + 1
            continue
        if mode == "jis" and 0x21 <= byte <= 0x7E:
            second = data[position + 1] if position + 1 < end else 0
            if not 0x21 <= second <= 0x7E:
                raise UnicodeDecodeError(NAME, data, position, position + 2, "broken pair")
            shift_jis += _to_shift_jis(byte, second)
            position += 2
            continue
        shift_jis.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        position += 1
    return shift_jis.decode("cp932", errors), end


def _to_shift_jis(first: int, second: int) -> bytes:
    lead = (first + 1) // 2 + 0x70
    if lead > 0x9F:
        lead += 0x40
    # An odd row's cells go to trail bytes 0x40-0x9E (skipping 0x7F), an even row's to 0x9F-0xFC.
    trail = second + 0x1F + (second >= 0x60) if first % 2 else second + 0x7E
    return bytes((lead, trail))


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != NAME:
        return None
    iso2022_jp = codecs.lookup("iso2022_jp_ext")
    return codecs.CodecInfo(encode=iso2022_jp.encode, decode=decode, name=NAME)


codecs.register(_search)
