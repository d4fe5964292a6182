"""Normalizing the identifiers clients write from.

Every lookup and every insert of ``client_external_ids`` goes through ``normalize``, so one
address written two ways (``Ada@Example.COM``, ``ada@example.com``) is one client, and a stored
value can be compared with ``=`` on either database.
"""

from __future__ import annotations

import re

import idna
import phonenumbers

SUPPORTED_TYPES = ("email", "phone", "whatsapp", "slack")
USER_EMAIL_TYPE = "email"
"""The type of the id every user has of their own, ``users.email``; their ids of other types
are linked accounts (``user_oauth_accounts``, the provider named as the type)."""
MAX_LENGTH = 255
"""The width of ``client_external_ids.value``."""

_PHONE_TYPES = ("phone", "whatsapp")
_WHATSAPP_PREFIX = "whatsapp:"
_PLAIN_DOMAIN = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")
"""An ASCII domain (no punycode) that IDNA would only lower-case: skipping the codec halves the
cost of a sender lookup."""
_SLACK_ID = re.compile(r"[A-Z0-9]+:[A-Z0-9]+")
_EMAIL_EXAMPLE = "like ada@example.com"
_PHONE_EXAMPLE = "E.164 like +14155552671"


class InvalidExternalId(ValueError):
    """An identifier that cannot be stored or looked up; the message says what is expected."""


def normalize(type: str, value: str, default_region: str) -> str:
    """The one stored form of ``value``; ``default_region`` reads numbers without ``+``."""
    if type not in SUPPORTED_TYPES:
        raise InvalidExternalId(
            f"unsupported external id type {type!r}; supported: {', '.join(SUPPORTED_TYPES)}"
        )
    text = value.strip()
    if not text:
        raise InvalidExternalId(f"{type} id is empty")
    if type == "email":
        normalized = _email(text)
    elif type == "slack":
        normalized = _slack(text)
    else:
        normalized = _phone(type, text, default_region)
    if len(normalized) > MAX_LENGTH:
        raise InvalidExternalId(f"{type} {value!r} is longer than {MAX_LENGTH} characters")
    return normalized


def email_or_none(value: str) -> str | None:
    """The stored form of an address another tool wrote (a user's email, a bounce report's
    recipient), or None when it is no valid address: such a value matches no sender."""
    try:
        return normalize("email", value, default_region="")
    except InvalidExternalId:
        return None


def matching_types(type: str) -> tuple[str, ...]:
    """The types whose ids with the same value are the same person: a phone number is also the
    WhatsApp sender of that number, and the other way round."""
    return _PHONE_TYPES if type in _PHONE_TYPES else (type,)


def _email(text: str) -> str:
    # Every whitespace or control character but the space is unprintable: one C-level scan.
    if " " in text or not text.isprintable():
        raise InvalidExternalId(
            f"email {text!r} contains spaces or control characters; "
            f"expected a bare address {_EMAIL_EXAMPLE}"
        )
    local, at, domain = text.rpartition("@")
    if not at or not local or "@" in local:
        raise InvalidExternalId(
            f"email {text!r} needs exactly one @ after a non-empty name; "
            f"expected an address {_EMAIL_EXAMPLE}"
        )
    try:
        ascii_domain = (
            domain.lower()
            if _PLAIN_DOMAIN.fullmatch(domain) and "xn--" not in domain.lower()
            else idna.encode(domain, uts46=True).decode("ascii")
        )
    except idna.IDNAError as error:
        raise InvalidExternalId(
            f"email {text!r} has an invalid domain {domain!r} ({error}); "
            f"expected an address {_EMAIL_EXAMPLE}"
        ) from None
    if "." not in ascii_domain or ascii_domain.endswith("."):
        raise InvalidExternalId(
            f"email {text!r} needs a domain with a dot and no trailing dot; "
            f"expected an address {_EMAIL_EXAMPLE}"
        )
    return f"{local.lower()}@{ascii_domain}"


def _phone(type: str, text: str, default_region: str) -> str:
    if type == "whatsapp" and text[: len(_WHATSAPP_PREFIX)].lower() == _WHATSAPP_PREFIX:
        text = text[len(_WHATSAPP_PREFIX) :].strip()
    if not text.startswith("+") and not default_region:
        raise InvalidExternalId(
            f"{type} {text!r} has no country code; write it as {_PHONE_EXAMPLE}, "
            "or set identity.default_region to read national numbers"
        )
    try:
        number = phonenumbers.parse(text, default_region or None)
    except phonenumbers.NumberParseException:
        raise InvalidExternalId(
            f"{type} {text!r} is not a phone number; expected {_PHONE_EXAMPLE}"
        ) from None
    if number.extension:
        raise InvalidExternalId(
            f"{type} {text!r} has an extension, which no sender has; give the number alone"
        )
    if not phonenumbers.is_valid_number(number):
        raise InvalidExternalId(
            f"{type} {text!r} is not a valid number (wrong length or unassigned prefix); "
            f"expected {_PHONE_EXAMPLE}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _slack(text: str) -> str:
    normalized = text.upper()
    if not _SLACK_ID.fullmatch(normalized):
        raise InvalidExternalId(
            f"slack {text!r} is not TEAM:USER; expected the team and user ids, letters and "
            "digits only, like T0123ABC:U0456DEF"
        )
    return normalized
