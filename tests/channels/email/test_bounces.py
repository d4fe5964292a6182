"""Delivery reports name who failed and thread onto the ticket of the mail that bounced."""

from __future__ import annotations

from tests.channels.email.sample_mail import parsed, stored
from threadline.core.normalized import Bounce, Classification


def test_a_dsn_names_the_failed_recipient_its_status_and_our_bounced_mail():
    inbound = parsed(stored("dsn_user_unknown.eml"))

    assert inbound.classification is Classification.BOUNCE
    assert inbound.bounces == (
        Bounce(
            recipient="nobody@example.org",
            status="5.1.1",
            original_id="t42-abcdefghijklmnop.1@desk.example.com",
            diagnostic=(
                "550 5.1.1 <nobody@example.org>: Recipient address rejected: "
                "User unknown in local recipient table"
            ),
        ),
    )
    assert inbound.bounces[0].permanent


def test_a_dsn_threads_onto_the_mail_that_bounced():
    hints = parsed(stored("dsn_user_unknown.eml")).hints

    assert hints.in_reply_to == ("t42-abcdefghijklmnop.1@desk.example.com",)


def test_a_dsn_is_a_bounce_even_though_the_returned_headers_carry_our_loop_header():
    assert parsed(stored("dsn_user_unknown.eml")).classification is Classification.BOUNCE


def test_a_delay_report_is_a_bounce_with_a_4_status_and_delivered_recipients_are_left_out():
    inbound = parsed(stored("dsn_delayed.eml"))

    assert inbound.bounces == (
        Bounce(
            recipient="slow@example.net",
            status="4.4.7",
            original_id="t43-bcdefghijklmnopq.1@desk.example.com",
            diagnostic="451 4.4.7 mailbox temporarily unavailable",
        ),
    )
    assert not inbound.bounces[0].permanent
    assert inbound.hints.in_reply_to == ("t43-bcdefghijklmnopq.1@desk.example.com",)


def test_a_plain_text_bounce_from_mailer_daemon_threads_by_the_quoted_message_id():
    inbound = parsed(stored("qmail_bounce.eml"))

    assert inbound.classification is Classification.BOUNCE
    assert inbound.bounces == ()
    assert inbound.hints.in_reply_to == ("t44-cdefghijklmnopqr.1@desk.example.com",)


def test_a_report_from_the_null_address_is_sent_by_its_reporting_host():
    raw = stored("dsn_delayed.eml").replace(
        b"From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>",
        b"From: MAILER DAEMON <>",
    )

    sender = parsed(raw).sender

    assert sender.value == "mailer-daemon@relay.example.net"
