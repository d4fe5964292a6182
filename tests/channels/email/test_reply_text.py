"""Only what the sender wrote this time is the reply; the full text keeps everything."""

from __future__ import annotations

from mailparser_reply import EmailReplyParser

from tests.channels.email.sample_mail import mail, parsed, stored
from threadline.channels.email.marker import REPLY_MARKER
from threadline.channels.email.reply_text import _LANGUAGES, LANGUAGES, _HeaderFinder


def test_text_above_our_reply_marker_is_the_reply():
    body = (
        "Thanks, done.\n\n"
        "On Mon, 2 Mar 2026 at 09:00, Support <support@example.com> wrote:\n"
        f"> {REPLY_MARKER}\n>\n> Please restart the printer.\n"
    )

    inbound = parsed(mail(body))

    assert inbound.reply_text == "Thanks, done."
    assert "Please restart the printer." in inbound.full_text


def test_our_marker_wins_over_a_client_header_written_above_it():
    body = (
        "See below.\n\nFrom: Bob\nSent: today\n\nforwarded words\n\n"
        f"-----Original Message-----\n{REPLY_MARKER}\nold\n"
    )

    assert parsed(mail(body)).reply_text.startswith("See below.\n\nFrom: Bob")


def test_gmail_quote_is_cut_from_an_html_reply():
    inbound = parsed(stored("gmail_reply.eml"))

    assert inbound.reply_text == "Thanks, it prints again.\nOne more question: can it do A3?"
    assert "Please restart the printer." in inbound.full_text


def test_outlook_reply_header_and_everything_after_it_are_cut():
    inbound = parsed(stored("outlook_reply.eml"))

    assert inbound.reply_text == "Works now, thanks."


def test_a_cited_blockquote_and_its_attribution_are_cut():
    inbound = parsed(stored("apple_mail_reply.eml"))

    assert inbound.reply_text == "Restarted it, all good."


def test_outlook_original_message_line_cuts_a_plain_reply():
    body = (
        "Works now.\n\n-----Original Message-----\nFrom: Support <support@example.com>\n"
        "Sent: Monday, March 2, 2026 9:00 AM\nSubject: Printer\n\nPlease restart the printer.\n"
    )

    assert parsed(mail(body)).reply_text == "Works now."


def test_the_library_finds_a_german_reply_header():
    body = (
        "Es geht wieder, danke.\n\n"
        "Am 02.03.2026 um 09:00 schrieb Support <support@example.com>:\n"
        "> Bitte den Drucker neu starten.\n"
    )

    assert parsed(mail(body)).reply_text == "Es geht wieder, danke."


def test_the_library_finds_a_french_outlook_header_block():
    body = (
        "C'est réparé.\n\n"
        "De : Support <support@example.com>\nEnvoyé : lundi 2 mars 2026 09:00\n"
        "À : Ada\nObjet : Imprimante\n\nVeuillez redémarrer l'imprimante.\n"
    )

    assert parsed(mail(body)).reply_text == "C'est réparé."


def test_indentation_in_the_reply_is_kept():
    body = (
        "It fails with:\n\n    Traceback (most recent call last):\n      File x\n\n"
        "On Mon, 2 Mar 2026 at 09:00, Support <support@example.com> wrote:\n> Which error?\n"
    )

    assert parsed(mail(body)).reply_text == (
        "It fails with:\n\n    Traceback (most recent call last):\n      File x"
    )


def test_a_line_starting_with_thanks_does_not_cut_what_follows():
    body = "Thanks, that fixed the printer.\nBut the scanner still shows error 42.\n"

    assert parsed(mail(body)).reply_text == body.strip()


def test_the_signature_below_the_standard_separator_is_cut():
    body = "The printer works.\n\n-- \nAda Lovelace\nAnalytical Engines Ltd\n"

    assert parsed(mail(body)).reply_text == "The printer works."


def test_a_trailing_quote_without_any_header_is_cut():
    body = "Yes, that one.\n\n> Is it the printer on the second floor?\n"

    assert parsed(mail(body)).reply_text == "Yes, that one."


def test_a_mail_that_is_all_quote_has_no_reply_and_its_body_is_the_full_text():
    body = "On Mon, 2 Mar 2026 at 09:00, Support <support@example.com> wrote:\n> Hello\n"

    inbound = parsed(mail(body))

    assert inbound.reply_text == ""
    assert inbound.body == inbound.full_text


def test_the_header_finder_splits_where_the_library_does():
    library = EmailReplyParser(languages=list(LANGUAGES))
    texts = [
        "Still broken.\n\nOn Mon, 2 Mar 2026 at 09:00, Support <s@x> wrote:\n> old\n",
        "Ja.\n\nAm 02.03.2026 um 09:00 schrieb Support <s@x>:\n> alt\n",
        "Oui.\n\nDe : Support\nEnvoyé : lundi\nÀ : Ada\nObjet : Re\n\nancien\n",
        "Done.\n\nFrom: Bob\nSent: today\nTo: Ada\nSubject: Re\n\nBest regards,\nBob\n",
        "no header at all\n-- \nsig\n",
    ]
    for text in texts:
        ours = _HeaderFinder(text, list(_LANGUAGES)).read().replies
        theirs = library.read(text).replies
        assert [(r.headers, r.content) for r in ours] == [(r.headers, r.content) for r in theirs], (
            text
        )


def test_a_forward_under_a_separator_line_is_the_body_not_the_separator():
    body = (
        "----- Original Nachricht ----\n"
        "Von: Bob <bob@example.org>\n"
        "Gesendet: Montag, 2. März 2026 09:00\n"
        "Betreff: Rechnung 4711\n\n"
        "Die Rechnung 4711 ist doppelt abgebucht worden.\n"
    )

    inbound = parsed(mail(body))

    assert inbound.reply_text == ""
    assert "Die Rechnung 4711 ist doppelt abgebucht worden." in inbound.body


def test_a_gmail_forward_with_nothing_above_it_is_the_body():
    body = (
        "---------- Forwarded message ---------\n"
        "From: Bob <bob@example.org>\n"
        "Date: Mon, 2 Mar 2026 at 09:00\n"
        "Subject: Invoice 4711\n"
        "To: Ada <ada@example.com>\n\n"
        "Invoice 4711 was charged twice.\n"
    )

    assert "Invoice 4711 was charged twice." in parsed(mail(body)).body


def test_a_forward_with_only_a_signature_above_it_is_the_body():
    body = (
        "-- \nAda Lovelace\nAnalytical Engines Ltd\n\n"
        "On Mon, 2 Mar 2026 at 09:00, Bob <bob@example.org> wrote:\n"
        "> Invoice 4711 was charged twice.\n"
    )

    assert "> Invoice 4711 was charged twice." in parsed(mail(body)).body


def test_words_above_a_forward_stay_the_reply():
    body = (
        "Please look at the invoice below.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Bob <bob@example.org>\n"
        "Date: Mon, 2 Mar 2026 at 09:00\n\n"
        "Invoice 4711 was charged twice.\n"
    )

    assert parsed(mail(body)).reply_text == "Please look at the invoice below."
