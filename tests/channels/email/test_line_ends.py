"""Line ends in stored text are LF alone, whatever mix of carriage returns a mail carries."""

from __future__ import annotations

import pytest

from tests.channels.email.sample_mail import mail, parsed


@pytest.mark.parametrize(
    "body",
    [
        b"First line.\r\r\nSecond line.\r\n",  # a relay that converted line ends twice
        b"First line.\rSecond line.\r",  # old Mac line ends
        b"First line.\r\nSecond line.\r\r\r\n",
    ],
)
def test_stray_carriage_returns_become_line_breaks(body: bytes):
    inbound = parsed(mail(body))

    assert inbound.full_text == "First line.\nSecond line."
    assert "\r" not in inbound.reply_text


def test_html_text_loses_its_carriage_returns_too():
    inbound = parsed(
        mail(b"<p>First line.\r\r\nstill first.</p><p>Second\r</p>", Content_Type="text/html")
    )

    assert "\r" not in inbound.full_text
    assert "\r" not in (inbound.html or "")
