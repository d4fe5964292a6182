"""A contact a client shares on WhatsApp (a vCard, as Twilio hands it over as media), as the
readable line stored in the message's text; the card itself is kept as its file."""

from __future__ import annotations

VCARD_TYPES = frozenset({"text/vcard", "text/x-vcard", "text/directory"})


def contact_lines(content: bytes) -> list[str]:
    """One line per card: its name, phone numbers and addresses. A card vobject cannot read
    is said to be unreadable: its file is kept all the same."""
    import vobject  # only for a message that carries a card

    try:
        cards = list(vobject.readComponents(content.decode("utf-8", "replace")))
    except (vobject.base.ParseError, ValueError) as error:
        return [f"Contact card (unreadable: {error})"]
    return [_line(card) for card in cards]


def _line(card: object) -> str:
    contents = getattr(card, "contents", {})
    names = [entry.value for entry in contents.get("fn", [])]
    details = [
        _text(entry.value) for key in ("tel", "email", "org") for entry in contents.get(key, [])
    ]
    parts = [*names[:1], *(detail for detail in details if detail)]
    return "Contact: " + (", ".join(parts) if parts else "(an empty card)")


def _text(value: object) -> str:
    """A property's value; an organisation's is a list (its name, then its units)."""
    if isinstance(value, list):
        return "; ".join(part.strip() for part in value if part and part.strip())
    return str(value).strip()
