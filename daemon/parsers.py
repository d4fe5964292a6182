"""Every channel's parser, in a module of its own: the parse workers (``core/parse_ahead.py``)
import it by name in each new process, and should import no more than the parsers."""

from __future__ import annotations

from threadline.channels import normalized
from threadline.channels.email import parser as email_parser
from threadline.core.parsers import ParserRegistry


def build_parsers() -> ParserRegistry:
    """Channels join here as they are built."""
    parsers = ParserRegistry()
    parsers.register(normalized.CHANNEL, normalized.parse, in_workers=False)
    parsers.register(email_parser.CHANNEL, email_parser.parse)
    return parsers
