"""Whose mail the listener takes: our domains, our single addresses and the desk's own, with
``+tags``, case-insensitive, IDNA domains; nobody else's."""

from __future__ import annotations

import pytest

from threadline.channels.email.recipients import InvalidRecipientSetting, RecipientPolicy


def policy(
    domains: tuple[str, ...] = ("desk.example",),
    addresses: tuple[str, ...] = ("help@other.example",),
    desk: str = "support@mail.example",
) -> RecipientPolicy:
    return RecipientPolicy(domains, addresses, desk)


@pytest.mark.parametrize(
    "address",
    [
        "anyone@desk.example",
        "Anyone@DESK.EXAMPLE",
        "anyone@desk.example.",
        "help@other.example",
        "help+t3-abcdefghijklmnop@other.example",
        "support@mail.example",
        "support+t3a2-abcdefghijklmnop@Mail.Example",
    ],
)
def test_ours(address: str) -> None:
    assert policy().accepts(address)


@pytest.mark.parametrize(
    "address",
    [
        "victim@elsewhere.example",
        "anyone@sub.desk.example",
        "anyone@desk.example.evil.example",
        "helpdesk@other.example",
        "other@other.example",
        "help@other.example@elsewhere.example",
        "postmaster",
        "anyone@[127.0.0.1]",
        "@desk.example",
    ],
)
def test_not_ours(address: str) -> None:
    assert not policy().accepts(address)


def test_an_idna_domain_matches_in_unicode_and_in_punycode() -> None:
    unicode_config = policy(domains=("Bücher.example",))
    punycode_config = policy(domains=("xn--bcher-kva.example",))
    for configured in (unicode_config, punycode_config):
        assert configured.accepts("info@bücher.example")
        assert configured.accepts("info@XN--BCHER-KVA.example")


@pytest.mark.parametrize(
    ("domains", "addresses", "key"),
    [
        (("exa mple.com",), (), "email.domains"),
        (("desk.example",), ("not-an-address",), "email.addresses"),
    ],
)
def test_a_setting_no_address_could_match_names_its_key(
    domains: tuple[str, ...], addresses: tuple[str, ...], key: str
) -> None:
    with pytest.raises(InvalidRecipientSetting, match=rf"^{key}: "):
        policy(domains, addresses)
