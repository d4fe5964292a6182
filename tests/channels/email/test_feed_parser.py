"""The feed parser without a regex compile per boundary builds the stdlib's message trees."""

from __future__ import annotations

import email.feedparser
import itertools
import re
from email.message import Message
from email.policy import compat32

import pytest

from bench.mail_generator import corpus as generated_corpus
from tests.channels.email.test_corpus import corpus as cpython_corpus
from threadline.channels.email.feed_parser import (
    BoundaryMatcher,
    FeedParser,
    LineEndSearch,
    compile_pattern,
)


def _stdlib_pattern(boundary: str) -> str:
    """The pattern ``email.feedparser`` compiles for a boundary, as Python 3.11 writes it."""
    return (
        "(?P<sep>"
        + re.escape("--" + boundary)
        + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
    )


def _parse(parser_type: type[email.feedparser.FeedParser], text: str) -> Message:
    parser = parser_type(policy=compat32)
    parser.feed(text)
    return parser.close()


def _tree(message: Message) -> list[object]:
    """Everything the parser decided, part by part: headers, payloads, preambles, epilogues,
    defects."""
    return [
        (
            part.get_content_type(),
            part.raw_items() and list(part.raw_items()),
            None if part.is_multipart() else part.get_payload(),
            part.preamble,
            part.epilogue,
            [type(defect).__name__ for defect in part.defects],
        )
        for part in message.walk()
    ]


def _assert_same(text: str) -> None:
    ours, stdlib = _parse(FeedParser, text), _parse(email.feedparser.FeedParser, text)
    assert _tree(ours) == _tree(stdlib)
    assert ours.as_string() == stdlib.as_string()


def test_cpython_test_mails_parse_to_the_same_trees() -> None:
    mails = cpython_corpus()
    if not mails:
        pytest.skip("CPython's test.test_email mails are not installed")
    for path in mails:
        _assert_same(path.read_bytes().decode("ascii", "surrogateescape"))


def test_generated_support_mails_parse_to_the_same_trees() -> None:
    for raw in generated_corpus(300).mails:
        _assert_same(raw.decode("ascii", "surrogateescape"))


BOUNDARIES = ["b", "=_Part_1.2", "a+b*c?(d)[e]{f}|g^h$i\\j", "x-", "with space", "\u00e9"]
ENDINGS = ["", "--", "---", " ", " \t", "--  ", "-- x", "x", "\\"]
LINESEPS = ["", "\n", "\r", "\r\n", "\r\n\n", "\n\n", "\r\r\n", "\n\r", "\r\r", "\n\n\n"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_boundary_matcher_matches_what_the_stdlib_pattern_matches(boundary: str) -> None:
    pattern = _stdlib_pattern(boundary)
    matcher = compile_pattern(pattern)
    assert isinstance(matcher, BoundaryMatcher)
    expected = re.compile(pattern)
    prefixes = ["--" + boundary, "-" + boundary, "--" + boundary[:-1], " --" + boundary]
    for prefix, ending, linesep in itertools.product(prefixes, ENDINGS, LINESEPS):
        line = prefix + ending + linesep
        ours, theirs = matcher.match(line), expected.match(line)
        assert (ours is None) == (theirs is None), repr(line)
        if ours is not None and theirs is not None:
            for group in ("end", "ws", "linesep"):
                assert ours.group(group) == theirs.group(group), (repr(line), group)


def test_boundary_lines_in_a_mail_split_it_like_the_stdlib() -> None:
    parts = "".join(
        f"--b{ending}{linesep}Content-Type: text/plain\n\n{n}\n"
        for n, (ending, linesep) in enumerate(itertools.product(ENDINGS, LINESEPS))
    )
    _assert_same(f'Content-Type: multipart/mixed; boundary="b"\n\npreamble\n{parts}--b--\n')


def test_any_other_pattern_is_compiled_by_re() -> None:
    assert compile_pattern(r"(\r\n|\r|\n)") is re.compile(r"(\r\n|\r|\n)")
    assert isinstance(compile_pattern(_stdlib_pattern("b"), re.IGNORECASE), re.Pattern)
    unescaped = _stdlib_pattern("b").replace(re.escape("--b"), "--a.b")
    assert isinstance(compile_pattern(unescaped), re.Pattern)


@pytest.mark.parametrize("ending", ["", *LINESEPS, "x", "\r\nx", "\n\r\n", "\r\r"])
def test_line_end_search_finds_what_the_stdlib_pattern_finds(ending: str) -> None:
    for text in ("", "a", "ab", "line\r\nline", "\r\n\r"):
        ours, theirs = (
            LineEndSearch().search(text + ending),
            email.feedparser.NLCRE_eol.search(text + ending),
        )
        assert (ours and (ours.span(), ours.group(0))) == (
            theirs and (theirs.span(), theirs.group(0))
        ), repr(text + ending)


def test_only_our_parser_sees_the_stand_ins() -> None:
    assert FeedParser._parsegen.__globals__["re"].compile is compile_pattern
    assert isinstance(FeedParser._parsegen.__globals__["NLCRE_eol"], LineEndSearch)
    assert email.feedparser.re is re
    assert isinstance(email.feedparser.NLCRE_eol, re.Pattern)
