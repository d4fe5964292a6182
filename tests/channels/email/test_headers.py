"""What the header tells threading, routing and identity."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.channels.email.sample_mail import mail, parsed
from threadline.core.outcome import Park

TOKEN = "t42a7-abcdefghijklmnop"


def test_ids_are_kept_without_angle_brackets():
    raw = mail(In_Reply_To="<q1@desk.example>", References="<r0@x.example>\r\n <q1@desk.example>")

    hints = parsed(raw).hints

    assert hints.own_id == "a1@mail.example.com"
    assert hints.in_reply_to == ("q1@desk.example",)
    assert hints.references == ("r0@x.example", "q1@desk.example")


def test_tokens_of_our_own_message_ids_are_handed_to_threading_nearest_first():
    """Our Message-IDs are ``tl.<token>.<digest>@<domain>``: the channel knows that format,
    core only verifies what it is handed."""
    older = "t41-abcdefghijklmnop"
    raw = mail(
        In_Reply_To=f"<tl.{TOKEN}.f00@desk.example>",
        References=f"<tl.{older}.b4r@desk.example> <other@x.example> <tl.{TOKEN}.f00@desk.example>",
    )

    assert parsed(raw).hints.referenced_tokens == (TOKEN, older)
    assert parsed(mail(In_Reply_To="<q1@desk.example>")).hints.referenced_tokens == ()


def test_an_answer_to_a_notice_of_ours_says_so():
    """A notice's id (``tl.notice.<digest>@<domain>``) names no ticket: its answer is flagged
    for the pipeline to park, and ``notice`` is handed to nobody as a token."""
    answer = parsed(mail(In_Reply_To="<tl.notice.abcdefghijklmnop@desk.example>")).hints
    assert (answer.answers_notice, answer.referenced_tokens) == (True, ("notice",))
    forwarded = mail(References="<tl.notice.abcdefghijklmnop@desk.example>")
    assert parsed(forwarded).hints.answers_notice is False


def test_a_bare_in_reply_to_without_brackets_still_counts():
    assert parsed(mail(In_Reply_To="q1@desk.example")).hints.in_reply_to == ("q1@desk.example",)


def test_a_mail_without_message_id_gets_the_same_derived_id_on_every_parse():
    raw = mail(Message_ID=None)

    first, second = parsed(raw).hints.own_id, parsed(raw).hints.own_id

    assert first == second
    assert first.endswith("@threadline.invalid")
    assert parsed(mail("Other text", Message_ID=None)).hints.own_id != first


def test_an_empty_message_id_counts_as_none():
    assert parsed(mail(Message_ID="<>")).hints.own_id.endswith("@threadline.invalid")


def test_an_overlong_message_id_is_replaced_by_its_digest():
    own_id = parsed(mail(Message_ID=f"<{'x' * 600}@example.com>")).hints.own_id

    assert own_id.endswith("@threadline.invalid")
    assert len(own_id) < 100


def test_the_subject_tag_is_read():
    assert parsed(mail(Subject="Re: [#123] Printer broken")).hints.subject_tag == 123


def test_a_subject_tag_too_large_for_a_ticket_id_is_ignored():
    assert parsed(mail(Subject="[#99999999999] Printer")).hints.subject_tag is None


def test_the_reply_token_comes_from_the_envelope_recipient_first():
    raw = mail(To="support+t1-aaaaaaaaaaaaaaaa@example.com")

    inbound = parsed(raw, rcpt_tos=[f"support+{TOKEN}@example.com"])

    assert inbound.hints.reply_token == TOKEN


def test_the_reply_token_falls_back_to_the_to_header():
    raw = mail(To=f"Support <support+{TOKEN.upper()}@example.com>")

    assert parsed(raw).hints.reply_token == TOKEN


def test_a_dot_separated_token_is_found_where_a_list_server_dropped_the_plus():
    raw = mail(To="bob@example.org", Cc=f"support.{TOKEN}@example.com")

    assert parsed(raw).hints.reply_token == TOKEN


def test_a_delivered_to_header_carries_the_token_of_an_imap_mailbox():
    raw = mail(Delivered_To=f"support+{TOKEN}@example.com")

    assert parsed(raw).hints.reply_token == TOKEN


def test_a_plus_tag_that_is_not_a_token_is_no_token():
    assert parsed(mail(To="support+billing@example.com")).hints.reply_token is None


def test_the_receiving_address_is_the_envelope_recipient_without_its_token():
    inbound = parsed(mail(), rcpt_tos=[f"support+{TOKEN}@example.com", "sales@example.com"])

    assert inbound.receiving_address == "support@example.com"


def test_the_receiving_address_is_the_imap_mailbox_without_an_envelope():
    assert parsed(mail(), mailbox="billing").receiving_address == "billing"


def test_the_receiving_address_is_the_first_to_address_as_a_last_resort():
    raw = mail(To=f"support+{TOKEN}@example.com, sales@example.com")

    assert parsed(raw).receiving_address == "support@example.com"


def test_recipients_are_the_to_and_cc_addresses():
    raw = mail(To='"Support, Desk" <support@example.com>, sales@example.com', Cc="bob@example.org")

    assert parsed(raw).recipients == ("support@example.com", "sales@example.com", "bob@example.org")


def test_the_sender_is_the_from_address_with_its_decoded_name():
    sender = parsed(mail(From="=?utf-8?q?Lovelace=2C_Ada?= <Ada@Example.com>")).sender

    assert (sender.type, sender.value, sender.display_name) == (
        "email",
        "Ada@Example.com",
        "Lovelace, Ada",
    )


def test_the_sender_falls_back_to_sender_then_reply_to_then_return_path():
    assert parsed(mail(From="Ada", Reply_To="ada@example.com")).sender.value == "ada@example.com"
    assert parsed(mail(From=None, Sender="list@example.com")).sender.value == "list@example.com"
    both = mail(From="Ada", Sender="list@example.com", Reply_To="ada@example.com")
    assert parsed(both).sender.value == "list@example.com"
    returned = mail(From="Ada", Return_Path="<bounces@example.com>")
    assert parsed(returned).sender.value == "bounces@example.com"


@pytest.mark.parametrize(
    ("written", "address", "name"),
    [
        ("ada@example.com.", "ada@example.com", None),
        ("Ada Lovelace <ada@example.com.>", "ada@example.com", "Ada Lovelace"),
        ("Test test@example.com", "test@example.com", "Test"),
        ('"Ada" ada@example.com', "ada@example.com", "Ada"),
    ],
)
def test_a_from_address_mailers_got_wrong_is_repaired(written: str, address: str, name: str):
    sender = parsed(mail(From=written)).sender

    assert (sender.value, sender.display_name) == (address, name)


def test_a_from_address_without_a_dotted_domain_gives_way_to_the_next_header():
    raw = mail(From="Ada <ada@localhost>", Reply_To="Ada <ada@example.com>")

    assert parsed(raw).sender.value == "ada@example.com"


def test_the_sender_falls_back_to_the_envelope_sender():
    assert parsed(mail(From=None), mail_from="ada@example.com").sender.value == "ada@example.com"


def test_a_mail_without_any_usable_sender_is_parked_naming_what_was_tried():
    with pytest.raises(Park) as parked:
        parsed(mail(From="undisclosed-recipients:;", Reply_To="ada@localhost"))

    assert str(parked.value) == (
        "mail without a usable sender address, nobody to open a ticket for (tried From "
        "'undisclosed-recipients:;', Sender absent, Reply-To 'ada@localhost', Return-Path "
        "absent, envelope sender absent); it is kept as it came (`threadline inbound show ID`)"
    )


def test_the_date_is_naive_utc():
    assert parsed(mail()).sent_at == datetime(2026, 3, 2, 8, 0)


def test_an_unreadable_date_is_none():
    assert parsed(mail(Date="the day before yesterday")).sent_at is None
