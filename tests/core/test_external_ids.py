"""One identifier, however it is written, has one stored form; a bad one says what is expected."""

from __future__ import annotations

import pytest

from threadline.core.external_ids import (
    SUPPORTED_TYPES,
    InvalidExternalId,
    matching_types,
    normalize,
)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@Example.COM\n", "ada@example.com"),
        ("ADA.LOVELACE+support@EXAMPLE.co.uk", "ada.lovelace+support@example.co.uk"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
        ("ada@BÜCHER.Example", "ada@xn--bcher-kva.example"),
        ("ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
        ("ada@ｅｘａｍｐｌｅ.com", "ada@example.com"),
        ("Ädä@münchen.de", "ädä@xn--mnchen-3ya.de"),
    ],
)
def test_emails_are_trimmed_lower_cased_and_idna_encoded(written: str, stored: str):
    assert normalize("email", written, "") == stored


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ada.example.com", "exactly one @"),
        ("@example.com", "exactly one @"),
        ("ada@home@example.com", "exactly one @"),
        ("ada@localhost", "a dot"),
        ("ada@example.com.", "no trailing dot"),
        ("ada@example..com", "invalid domain"),
        ("ada@-example.com", "invalid domain"),
        ("ada@exa_mple.com", "invalid domain"),
        ("ada lovelace@example.com", "spaces"),
        ("Ada <ada@example.com>", "spaces"),
        ("ada\x00@example.com", "control characters"),
        ("a" * 250 + "@example.com", "longer than 255"),
    ],
)
def test_malformed_emails_are_refused_with_what_is_wrong(written: str, complaint: str):
    with pytest.raises(InvalidExternalId, match=complaint):
        normalize("email", written, "")


def test_an_email_refusal_quotes_the_value_and_shows_an_address_to_follow():
    with pytest.raises(InvalidExternalId) as caught:
        normalize("email", "ada@localhost", "")
    assert "'ada@localhost'" in str(caught.value)
    assert "like ada@example.com" in str(caught.value)


@pytest.mark.parametrize(
    ("type_", "written", "region", "stored"),
    [
        ("phone", "+44 20 7946 0958", "", "+442079460958"),
        ("phone", "+1 (415) 555-2671", "", "+14155552671"),
        ("phone", " +14155552671 ", "GB", "+14155552671"),
        ("phone", "020 7946 0958", "GB", "+442079460958"),
        ("phone", "(415) 555-2671", "US", "+14155552671"),
        ("phone", "00 44 20 7946 0958", "DE", "+442079460958"),
        ("whatsapp", "+14155552671", "", "+14155552671"),
        ("whatsapp", "whatsapp:+14155552671", "", "+14155552671"),
        ("whatsapp", "WhatsApp: +44 7911 123456", "", "+447911123456"),
        ("whatsapp", "07911 123456", "GB", "+447911123456"),
    ],
)
def test_numbers_are_stored_in_e164(type_: str, written: str, region: str, stored: str):
    assert normalize(type_, written, region) == stored


def test_a_national_number_without_default_region_is_refused_with_the_setting_to_use():
    with pytest.raises(InvalidExternalId, match=r"identity\.default_region") as caught:
        normalize("phone", "020 7946 0958", "")
    assert "country code" in str(caught.value)
    assert "+14155552671" in str(caught.value)


def test_a_whatsapp_address_without_country_code_needs_a_region_too():
    with pytest.raises(InvalidExternalId, match=r"identity\.default_region"):
        normalize("whatsapp", "whatsapp:07911123456", "")


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("+4412", "not a valid number"),
        ("+1 555 0100", "not a valid number"),
        ("+99912345678", "not a phone number|not a valid number"),
        ("+call me", "not a phone number"),
        ("+1 415 555 2671 ext. 12", "extension"),
        ("", "empty"),
    ],
)
def test_invalid_numbers_are_refused(written: str, complaint: str):
    with pytest.raises(InvalidExternalId, match=complaint):
        normalize("phone", written, "")


def test_a_twilio_whatsapp_sender_and_the_bare_number_are_stored_alike():
    assert normalize("whatsapp", "whatsapp:+442079460958", "") == normalize(
        "whatsapp", "+44 20 7946 0958", ""
    )


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("T0123ABC:U0456DEF", "T0123ABC:U0456DEF"),
        ("t0123abc:u0456def", "T0123ABC:U0456DEF"),
        (" T1:W2 ", "T1:W2"),
    ],
)
def test_slack_ids_are_team_and_user_upper_cased(written: str, stored: str):
    assert normalize("slack", written, "") == stored


@pytest.mark.parametrize(
    "written", ["U0456DEF", "T1:", ":U2", "T1:U2:X", "T1 :U2", "T-1:U2", "T1:U_2", "T1:Ü2"]
)
def test_malformed_slack_ids_are_refused_with_the_expected_shape(written: str):
    with pytest.raises(InvalidExternalId, match="TEAM:USER"):
        normalize("slack", written, "")


def test_an_unsupported_type_is_refused_listing_the_supported_ones():
    with pytest.raises(InvalidExternalId) as caught:
        normalize("fax", "+14155552671", "")
    message = str(caught.value)
    assert "'fax'" in message
    for supported in SUPPORTED_TYPES:
        assert supported in message


def test_types_are_exact_so_callers_store_the_canonical_type():
    with pytest.raises(InvalidExternalId, match="unsupported"):
        normalize("Email", "ada@example.com", "")


def test_invalid_external_id_is_a_value_error_for_callers_that_only_know_that():
    assert issubclass(InvalidExternalId, ValueError)


def test_a_phone_number_and_a_whatsapp_sender_are_the_same_identity():
    assert set(matching_types("phone")) == {"phone", "whatsapp"}
    assert set(matching_types("whatsapp")) == {"phone", "whatsapp"}
    assert matching_types("email") == ("email",)
    assert matching_types("slack") == ("slack",)
