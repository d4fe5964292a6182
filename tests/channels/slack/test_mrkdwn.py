"""Slack's text both ways: readable on the ticket, inert when we post it."""

from __future__ import annotations

import pytest

from threadline.channels.slack.mrkdwn import escaped, plain_text


@pytest.mark.parametrize(
    ("sent", "readable"),
    [
        ("<@U0GRACE> can you look?", "@U0GRACE can you look?"),
        ("<@U0GRACE|grace> hi", "@grace hi"),
        ("see <#C0SUPPORT|support>", "see #support"),
        ("<!here> down!", "@here down!"),
        ("<!subteam^S0TEAM|@ops> ping", "@@ops ping"),
        ("<https://example.com/a?b=1&amp;c=2>", "https://example.com/a?b=1&c=2"),
        ("<https://example.com|the docs>", "the docs (https://example.com)"),
        ("<mailto:ada@example.com|ada@example.com>", "ada@example.com"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ],
)
def test_what_a_customer_wrote_is_stored_as_plain_text(sent: str, readable: str):
    assert plain_text(sent) == readable


def test_stored_text_posted_to_slack_can_neither_mention_nor_link():
    posted = escaped("<!channel> @here @everyone <https://evil.example|your invoice> & more")
    assert "<" not in posted
    assert ">" not in posted
    assert "@here" not in posted
    assert "@everyone" not in posted
    assert plain_text(posted).replace("\u200b", "") == (
        "<!channel> @here @everyone <https://evil.example|your invoice> & more"
    )
