"""The signed, expiring links Twilio fetches our files from, without any server."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from threadline.channels.whatsapp.media_links import MediaLinks
from threadline.core.tokens import ReplyToken, TokenSigner

SIGNER = TokenSigner("a-secret-of-the-desk")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def link_of(url: str) -> str:
    return urlsplit(url).path.split("/")[-2]


def test_a_link_names_its_file_until_it_expires():
    clock = Clock()
    links = MediaLinks(SIGNER, "https://desk.example.com", timedelta(minutes=10), clock)
    url = links.url(42, "invoice März.pdf")
    assert url.startswith("https://desk.example.com/twilio/media/m42e")
    assert url.endswith("/invoice%20M%C3%A4rz.pdf")

    clock.now += 600
    assert links.attachment_id(link_of(url)) == 42
    clock.now += 1
    assert links.attachment_id(link_of(url)) is None


def test_an_altered_forged_or_borrowed_link_names_nothing():
    links = MediaLinks(SIGNER, "https://desk.example.com", timedelta(minutes=10), Clock())
    link = link_of(links.url(42, "a.pdf"))
    payload, signature = link.rsplit("-", 1)

    assert links.attachment_id(payload.replace("m42", "m43") + "-" + signature) is None
    other = MediaLinks(TokenSigner("another-desk"), "https://x", timedelta(minutes=10), Clock())
    assert links.attachment_id(link_of(other.url(42, "a.pdf"))) is None
    # A reply token is signed with the same key, but is no link to a file.
    assert links.attachment_id(SIGNER.sign(ReplyToken(42))) is None
    assert links.attachment_id("m42e9999999999") is None
