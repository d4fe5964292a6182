"""Text out of mail bytes, whatever charset they claim.

Mail in the wild names charsets Python does not know (``x-unknown``), labels UTF-8 as
``us-ascii``, or splits one multi-byte character over two encoded words. The order is always the
same: the declared charset, then detection, then replacement characters. Nothing here raises on
bad input: one unreadable header must not cost a customer's message.
"""

from __future__ import annotations

import binascii
import codecs
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote

from charset_normalizer import from_bytes

from threadline.channels.email import cp50221
from threadline.channels.email.east_asian import east_asian

_ALIASES = {
    # Labels mail uses that Python does not know, to the codec they name.
    "iso-8859-6-i": "iso8859_6",
    "iso-8859-6-e": "iso8859_6",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-8-e": "iso8859_8",
    "windows-874": "cp874",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "x-x-big5": "big5",
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "cp-850": "cp850",
    "unicode": "utf_16",
    "iso-2022-jp-ms": cp50221.NAME,
    "cp50220": cp50221.NAME,
    "cp50222": cp50221.NAME,
}
"""Python knows ``unicode-1-1-utf-7``, ``utf7`` and ``ks_c_5601-1987`` itself; ``x-unknown``
and ``x-user-defined`` name nothing, so detection decides."""
_SUPERSETS = {
    # What mail clients (and browsers, per WHATWG) really mean by these labels: decoding with
    # the superset gives the characters the sender saw instead of failing on a few bytes.
    "iso8859_1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "iso2022_jp": cp50221.NAME,
    "iso2022_jp_ext": cp50221.NAME,
    "big5": "big5hkscs",
    "tis_620": "cp874",
    "iso8859_11": "cp874",
}
_NOT_ASCII_BASED = ("utf_16", "utf_32", "utf_7", "iso2022", "hz", cp50221.NAME)
"""Codecs whose text may be pure ASCII bytes that still mean something else."""
_DETECT_LIMIT = 64 * 1024
"""Detection looks at this much at most: enough to be sure, and bounded in time."""
_CHARSET = re.compile(
    r"""\bcharset(?:\*\s*=\s*["']?[^'";\s]*'[^'";\s]*'|\s*=\s*["']?)([^"';\s]+)""",
    re.IGNORECASE,
)
_MULTIBYTE = re.compile(r"[^\x00-\x7f\ufffd]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?]*)\?=")
"""A word's text may hold spaces, which no rule allows but some mailers write
(``=?UTF-8?Q? Personal=C3=A4nderung?=``); it never holds a question mark."""


def content_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, RFC 2231 form (``charset*=``)
    included, read with one regular expression: the stdlib's parameter parser costs as much
    as the rest of a part, and raises on some broken values."""
    match = _CHARSET.search(content_type)
    return unquote(match[1]) if match else None


@lru_cache(maxsize=256)
def codec_name(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when there is none (or it is not a
    text encoding, like ``base64``)."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").split("*", 1)[0].lower()
    label = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    return _SUPERSETS.get(info.name.replace("-", "_"), info.name)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Declared charset, then detection, then UTF-8 with replacement characters. NUL characters
    are dropped: no database column takes them."""
    codec = codec_name(charset)
    if data.isascii() and (
        codec is None or not codec.replace("-", "_").startswith(_NOT_ASCII_BASED)
    ):
        text = data.decode("ascii")
    else:
        text = _decode(data, codec)
    return text.replace("\x00", "") if "\x00" in text else text


def _decode(data: bytes, codec: str | None) -> str:
    if codec is not None:
        try:
            text = data.decode(codec)
        except (UnicodeError, LookupError):
            pass
        else:
            # Vietnamese Windows text writes most tones as combining marks: composed, it reads
            # (and searches) like the same words from any other client.
            return unicodedata.normalize("NFC", text) if codec == "cp1258" else text
        if codec == "utf-8":
            text = data.decode("utf-8", "replace")
            if _MULTIBYTE.search(text):
                # Valid multi-byte characters beside the broken bytes: damaged UTF-8 (a cut
                # line, a bad relay), not another charset, so only the broken bytes are lost.
                return text
    detected = _detect(data)
    if detected is not None:
        return detected
    return data.decode(codec or "utf-8", "replace")


def _detect(data: bytes) -> str | None:
    # UTF-8 first: a non-ASCII text that decodes as UTF-8 is UTF-8 (other encodings almost
    # never form valid sequences), and checking costs microseconds where detection costs more.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = east_asian(data[:_DETECT_LIMIT])
    if codec is not None:
        return data.decode(codec, "replace")
    best = from_bytes(data[:_DETECT_LIMIT]).best()
    if best is None or best.encoding is None:
        return None
    try:
        return data.decode(best.encoding)
    except (UnicodeError, LookupError):
        return data.decode(best.encoding, "replace")


def header_text(value: str) -> str:
    """A compat32 header value as text: unfolded, raw 8-bit bytes decoded, RFC 2047 encoded
    words decoded."""
    text = unfolded(value)
    return (decode_words(text) if "=?" in text else text).strip()


def unfolded(value: str) -> str:
    """A compat32 header value unfolded, with its raw 8-bit bytes (which compat32 keeps as
    surrogate escapes) decoded, but its encoded words left for whoever must split it first
    (an address list, whose display names may hide commas in encoded words)."""
    if "\n" in value:
        value = _FOLD.sub("", value)
    if not value.isascii():
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value.replace("\x00", "") if "\x00" in value else value


def decode_words(value: str) -> str:
    """RFC 2047 encoded words. Adjacent words of one charset are joined before decoding, since
    some senders split a multi-byte character between them; the whitespace between adjacent
    words is dropped (RFC 2047 §6.2)."""
    parts: list[str] = []
    run: list[bytes] = []
    run_charset = ""
    last, after_word = 0, False
    for match in _ENCODED_WORD.finditer(value):
        between = value[last : match.start()]
        adjacent = after_word and (not between or between.isspace())
        charset = match[1].lower()
        if run and not (adjacent and charset == run_charset):
            parts.append(decode_bytes(b"".join(run), run_charset))
            run = []
        if not adjacent:
            parts.append(between)
        run.append(_word_bytes(match[2], match[3]))
        run_charset, last, after_word = charset, match.end(), True
    if run:
        parts.append(decode_bytes(b"".join(run), run_charset))
    parts.append(value[last:])
    return "".join(parts)


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("ascii", "replace")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return data
