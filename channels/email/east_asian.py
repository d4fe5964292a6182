"""Text in an East Asian double-byte encoding that names no charset, read in the right one.

GB2312/GBK, Big5, Shift_JIS and EUC-KR share their byte ranges, so each such text decodes in
several of them, and a general detector (charset-normalizer) often picks the wrong one for the
short texts of mail: a Chinese complaint comes out as Korean syllables, a Korean one as Big5.
The encoding whose reading holds the most of its language's common characters is the one the
sender used: the tables are charset-normalizer's own frequency lists, and kana only occur in
Japanese. Latin text is not read here: its accented letters, read as pairs with the letters
beside them, rarely give common characters.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer.constant import FREQUENCIES

_CODECS = {
    "gb18030": frozenset(FREQUENCIES["Chinese"]),
    "big5hkscs": frozenset(FREQUENCIES["Chinese"]),
    "cp932": frozenset(FREQUENCIES["Japanese"]),
    "cp949": frozenset(FREQUENCIES["Korean"]),
}
"""In order of preference when no reading holds a common character (a four-character file
name): Simplified Chinese first, as most such mail is."""
_KANA = re.compile(r"[\u3041-\u30ff]")
_HIGH = re.compile(rb"[\x80-\xff]")
_MIN_HITS = 2
_MIN_SHARE = 0.1
"""A reading needs this many common characters, and this share of its non-ASCII ones, to
count: a Latin text's accented letters, read as pairs, land on one by chance now and then."""


def east_asian(data: bytes) -> str | None:
    """The East Asian encoding ``data`` most likely has (a sample may end inside a character);
    None when no reading is convincing (then a general detector judges)."""
    best: tuple[float, str] | None = None
    first: str | None = None
    for codec, common in _CODECS.items():
        try:
            text = codecs.getincrementaldecoder(codec)().decode(data, final=False)
        except UnicodeDecodeError:
            continue
        first = first or codec
        wide = sum(ord(character) > 0x7F for character in text)
        hits = sum(character in common for character in text) + (
            len(_KANA.findall(text)) if codec == "cp932" else 0
        )
        share = hits / wide if wide else 0.0
        if hits >= _MIN_HITS and share >= _MIN_SHARE and (best is None or share > best[0]):
            best = (share, codec)
    if best is not None:
        return best[1]
    # Too short to hold common characters (a file name): mostly 8-bit bytes are no Latin text.
    return first if 2 * len(_HIGH.findall(data)) >= len(data) else None
