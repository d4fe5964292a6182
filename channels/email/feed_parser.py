"""The stdlib's ``FeedParser``, without compiling a regular expression for every mail.

For each multipart, ``FeedParser._parsegen`` compiles a pattern for its boundary line:
``(?P<sep>--BOUNDARY)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$``. Boundaries are
unique per mail, so ``re``'s cache never hits and the compile (about 100 µs) costs a 3 KB mail
more than parsing its lines. Here the same ``_parsegen`` runs with a stand-in for ``re`` that
answers that one pattern with a boundary matcher: a prefix test for the literal separator, then
one pattern, compiled once, for the rest of the line. It matches the same lines with the same
``end``, ``ws`` and ``linesep`` groups (the only groups the parser reads); ``sep`` is left out.
Any other pattern (another Python's ``_parsegen`` may write it differently) is compiled by
``re`` as before, so the parser then behaves exactly like the stdlib's.

The same copy of ``_parsegen`` finds the line break that ends each part with
:class:`LineEndSearch`: the stdlib searches ``(\\r\\n|\\r|\\n)\\Z`` from the start of the part,
trying every position (5 to 10 µs for a 1 KB part); a match can only start at one of the last
two characters.
"""

from __future__ import annotations

import email.feedparser
import re
import types
from typing import Any

_PREFIX = "(?P<sep>"
_SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL = re.compile(_SUFFIX[1:])
"""The boundary pattern after its literal separator: ``match(line, len(separator))`` with it
is the whole pattern's match on a line that starts with the separator (``$`` still means the
end of the line, whatever the start position)."""
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_LINE_END = re.compile(r"(\r\n|\r|\n)\Z")


class BoundaryMatcher:
    """What ``re.compile`` answers for a boundary pattern, as far as the parser uses it."""

    __slots__ = ("separator",)

    def __init__(self, separator: str) -> None:
        self.separator = separator

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL.match(line, len(self.separator))


def compile_pattern(pattern: str, flags: int = 0) -> BoundaryMatcher | re.Pattern[str]:
    """``re.compile``, but a :class:`BoundaryMatcher` for the stdlib's boundary pattern."""
    if flags or not (pattern.startswith(_PREFIX) and pattern.endswith(_SUFFIX)):
        return re.compile(pattern, flags)
    escaped = pattern[len(_PREFIX) : -len(_SUFFIX)]
    separator = _ESCAPED.sub(r"\1", escaped)
    if re.escape(separator) != escaped:  # not what re.escape writes: not a literal separator
        return re.compile(pattern, flags)
    return BoundaryMatcher(separator)


class LineEndSearch:
    """``NLCRE_eol`` (``(\\r\\n|\\r|\\n)\\Z``) searched from where a match can start: the same
    leftmost match, at the same positions."""

    __slots__ = ()

    def search(self, string: str) -> re.Match[str] | None:
        return _LINE_END.search(string, max(len(string) - 2, 0))


class _Re:
    """``re`` as ``_parsegen`` sees it: the module itself, but for ``compile``."""

    compile = staticmethod(compile_pattern)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def _with_stand_ins(parsegen: types.FunctionType) -> types.FunctionType:
    """``parsegen`` with the stand-ins in its globals (a copy: the stdlib's module
    and every other user of ``FeedParser`` keep the real ones); a ``_parsegen`` that is not a
    plain function is left as it is, and ``NLCRE_eol`` only replaced when it is the pattern
    :class:`LineEndSearch` stands for."""
    if not isinstance(parsegen, types.FunctionType):
        return parsegen
    stand_ins: dict[str, object] = {"re": _Re()}
    if getattr(getattr(email.feedparser, "NLCRE_eol", None), "pattern", None) == _LINE_END.pattern:
        stand_ins["NLCRE_eol"] = LineEndSearch()
    namespace = {**vars(email.feedparser), **stand_ins}
    return types.FunctionType(
        parsegen.__code__, namespace, parsegen.__name__, parsegen.__defaults__, parsegen.__closure__
    )


class FeedParser(email.feedparser.FeedParser):
    """``email.feedparser.FeedParser``, building the same message trees."""

    _parsegen = _with_stand_ins(email.feedparser.FeedParser._parsegen)
