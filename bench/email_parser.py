"""Benchmark of the email parser alone: microseconds per mail for the shapes a desk receives.

    .venv/bin/python -m bench.email_parser --runs 5

Each shape is parsed a few thousand times per run; the figure is the best run (the least
disturbed by anything else on the machine). ``parse only`` is the stdlib's compat32 parse of
the same bytes, the floor under everything the parser adds.
"""

from __future__ import annotations

import argparse
import base64
import timeit
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import compat32
from functools import partial

from threadline.channels.email.marker import REPLY_MARKER
from threadline.channels.email.parser import parse

LINE = "Hello support team, the printer on the second floor prints blank pages again.\r\n"
HEADER = (
    "From: Ada Lovelace <ada@example.com>\r\nTo: Support <support@example.com>\r\n"
    "Cc: bob@example.com\r\nSubject: Re: [#42] Printer broken\r\n"
    "Date: Mon, 2 Mar 2026 09:00:00 +0100\r\nMessage-ID: <a1@mail.example.com>\r\n"
    "In-Reply-To: <t42-abcdefghijklmnop.1@desk.example.com>\r\n"
    "References: <t42-abcdefghijklmnop.1@desk.example.com>\r\nMIME-Version: 1.0\r\n"
)
QUOTE = "".join(f"> {LINE}" for _ in range(12))
ATTRIBUTION = "On Mon, 2 Mar 2026 at 09:00, Support <support@example.com> wrote:\r\n"


def _multipart(subtype: str, *parts: str) -> str:
    body = "".join(f"--{subtype}\r\n{part}\r\n" for part in parts)
    return f'Content-Type: multipart/{subtype}; boundary="{subtype}"\r\n\r\n{body}--{subtype}--'


SHAPES = {
    "plain 3 KB": HEADER + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + LINE * 34,
    "plain reply to our mail": HEADER
    + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    + f"Still broken.\r\n\r\n{ATTRIBUTION}> {REPLY_MARKER}\r\n{QUOTE}",
    "plain reply, library": HEADER
    + "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    + f"Still broken.\r\n\r\n{ATTRIBUTION}{QUOTE}",
    "multipart 3 KB": HEADER
    + _multipart(
        "mixed",
        _multipart(
            "alternative",
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + LINE * 12,
            "Content-Type: text/html; charset=utf-8\r\n\r\n" + f"<p>{LINE}</p>" * 12,
        ),
        'Content-Type: image/png\r\nContent-Disposition: attachment; filename="a.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(bytes(300)).decode(),
    ),
    "gmail html reply": HEADER
    + _multipart(
        "alternative",
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + f"Still broken.\r\n\r\n{ATTRIBUTION}"
        f"{QUOTE}",
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        '<div dir="ltr">Still broken.</div><div class="gmail_quote"><blockquote>'
        + "".join(f"<div>{LINE}</div>" for _ in range(12))
        + "</blockquote></div>",
    ),
    "html only 3 KB": HEADER
    + "Content-Type: text/html; charset=utf-8\r\n\r\n"
    + "".join(f"<p>{LINE}</p>" for _ in range(30)),
}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=5)
    options.add_argument("--number", type=int, default=2000, help="parses per run")
    arguments = options.parse_args()
    stdlib = BytesParser(policy=compat32)
    meta = {"rcpt_tos": ["support@example.com"], "mail_from": "ada@example.com"}
    print(f"{'shape':26} {'bytes':>6} {'parse only':>11} {'parser':>9}")
    for name, text in SHAPES.items():
        raw = text.encode()
        floor = _best(partial(stdlib.parsebytes, raw), arguments.number, arguments.runs)
        whole = _best(partial(parse, raw, meta), arguments.number, arguments.runs)
        print(f"{name:26} {len(raw):6} {floor:8.0f} µs {whole:6.0f} µs")


def _best(call: Callable[[], object], number: int, runs: int) -> float:
    """Microseconds per call in the least disturbed run."""
    return min(timeit.repeat(call, number=number, repeat=runs)) / number * 1e6


if __name__ == "__main__":
    main()
