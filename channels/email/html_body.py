"""HTML mail as text, and the quoted part mail clients mark in it.

The text comes from ``html-text`` run on an lxml tree: the same tree the reply extraction cuts
the quoted message out of, so a mail's HTML is parsed once. The quote markers are the ones the
big clients write: Gmail's ``gmail_quote``, Outlook's ``divRplyFwdMsg`` (everything after it is
the answered mail), ``<blockquote type="cite">`` from Apple Mail and Thunderbird, Yahoo's
``yahoo_quoted``.
"""

from __future__ import annotations

import re

import lxml.etree
import lxml.html
from html_text import etree_to_text

_CLASS_MARKERS = ("gmail_quote", "divRplyFwdMsg", "yahoo_quoted", "moz-cite-prefix")
_CITE = re.compile(r"type=[\"']?cite", re.IGNORECASE)
_QUOTES = lxml.etree.XPath(
    "//*[contains(@class, 'gmail_quote') or contains(@class, 'yahoo_quoted')"
    " or contains(@class, 'moz-cite-prefix')]"
    " | //blockquote[translate(@type, 'CITE', 'cite') = 'cite']"
)
_OUTLOOK_HEADER = lxml.etree.XPath("//*[@id = 'divRplyFwdMsg']")
_XML_INCOMPATIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""Characters lxml takes into a tree but refuses when the tree is edited."""
_INVISIBLE = ("script", "style", "head", "template")
_PAGE = ("body", "html")
_ATTRIBUTION_CHARS = 300
"""Longest line above a cited block still taken for its attribution ("On …, Ada wrote:")."""


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """The document, without what a mail client never shows; None when nothing is left."""
    parser = lxml.html.HTMLParser(
        recover=True, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    if _XML_INCOMPATIBLE.search(html):
        html = _XML_INCOMPATIBLE.sub("", html)
    try:
        root = lxml.etree.fromstring(html.encode("utf-8", "replace"), parser=parser)
    except lxml.etree.LxmlError:
        return None
    if root is None:
        return None
    lxml.etree.strip_elements(root, *_INVISIBLE, with_tail=False)
    return root


def tree_text(root: lxml.html.HtmlElement) -> str:
    return etree_to_text(root)


def has_client_quote(html: str) -> bool:
    """A test on the markup, before anything is parsed: plain substring searches first, since
    they cost a fraction of a regular expression."""
    if any(marker in html for marker in _CLASS_MARKERS):
        return True
    return ("cite" in html or "CITE" in html) and _CITE.search(html) is not None


def drop_client_quotes(root: lxml.html.HtmlElement) -> bool:
    """Remove the quoted message the sender's client marked; False when it marked none."""
    headers = _OUTLOOK_HEADER(root)
    if headers:
        _drop_from(headers[0])  # the first one: everything after it, later ones included, goes
    found = bool(headers)
    for quote in _QUOTES(root):
        if quote.getparent() is None:
            continue
        if quote.tag == "blockquote":
            _drop_attribution(quote)
        quote.drop_tree()
        found = True
    return found


def _drop_from(element: lxml.html.HtmlElement) -> None:
    """Outlook writes the answered mail as the siblings after its header block, at every level
    up to the body: all of it goes, and the rule (``<hr>``) Outlook puts above the header."""
    node = element
    while node.getparent() is not None and node.tag not in _PAGE:
        for sibling in list(node.itersiblings()):
            sibling.drop_tree()
        node = node.getparent()
    previous = element.getprevious()
    if previous is not None and previous.tag == "hr":
        previous.drop_tree()
    element.drop_tree()


def _drop_attribution(quote: lxml.html.HtmlElement) -> None:
    """Apple Mail puts "On …, Ada wrote:" in the element just above the cited block."""
    previous = quote.getprevious()
    if previous is None or previous.tag in _PAGE:
        return
    text = previous.text_content().strip()
    if text.endswith(":") and len(text) <= _ATTRIBUTION_CHARS:
        previous.drop_tree()
