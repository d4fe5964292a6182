"""A contact shared on WhatsApp, as the text an agent reads."""

from __future__ import annotations

from threadline.channels.whatsapp.contacts import contact_lines

CARD = (
    b"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Turing;Alan;;;\r\nFN:Alan Turing\r\n"
    b"TEL;type=CELL;waid=447700900123:+44 7700 900123\r\nEMAIL:alan@example.org\r\n"
    b"ORG:Bletchley Park;Hut 8\r\nEND:VCARD\r\n"
)


def test_each_card_is_a_line_with_its_name_numbers_and_addresses():
    empty = b"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n"
    assert contact_lines(CARD + empty) == [
        "Contact: Alan Turing, +44 7700 900123, alan@example.org, Bletchley Park; Hut 8",
        "Contact: (an empty card)",
    ]


def test_a_card_that_cannot_be_read_says_so():
    (line,) = contact_lines(b"BEGIN:VCARD\r\nthis is no card\r\n")
    assert line.startswith("Contact card (unreadable: ")
