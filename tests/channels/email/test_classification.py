"""Mail from machines and lists is told apart from mail a person wrote, so nothing answers it."""

from __future__ import annotations

import pytest

from tests.channels.email.sample_mail import mail, parsed
from threadline.channels.email.marker import LOOP_HEADER
from threadline.core.normalized import Classification


def classified(raw: bytes, **meta: object) -> Classification:
    return parsed(raw, **meta).classification


def test_a_person_writing_is_personal():
    assert classified(mail(), mail_from="ada@example.com") is Classification.PERSONAL


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified; owner=x"])
def test_auto_submitted_other_than_no_is_an_auto_reply(value: str):
    assert classified(mail(Auto_Submitted=value)) is Classification.AUTO_REPLY


def test_auto_submitted_no_is_personal():
    assert classified(mail(Auto_Submitted="no")) is Classification.PERSONAL


@pytest.mark.parametrize("header", ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"])
def test_vacation_responder_headers_make_an_auto_reply(header: str):
    assert classified(mail(**{header.replace("-", "_"): "yes"})) is Classification.AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Printer broken", "Automatic reply: Printer", "Abwesenheitsnotiz: Drucker"],
)
def test_an_out_of_office_subject_makes_an_auto_reply(subject: str):
    assert classified(mail(Subject=subject)) is Classification.AUTO_REPLY


def test_precedence_auto_reply_is_an_auto_reply():
    assert classified(mail(Precedence="auto_reply")) is Classification.AUTO_REPLY


@pytest.mark.parametrize("value", ["bulk", "junk", "list", "Bulk"])
def test_bulk_precedence_is_bulk(value: str):
    assert classified(mail(Precedence=value)) is Classification.BULK


@pytest.mark.parametrize(
    ("header", "value"),
    [("List-Id", "<printers.example.com>"), ("List-Unsubscribe", "<mailto:leave@example.com>")],
)
def test_mailing_list_headers_are_bulk(header: str, value: str):
    assert classified(mail(**{header.replace("-", "_"): value})) is Classification.BULK


def test_a_null_return_path_is_automatic():
    assert classified(mail(Return_Path="<>")) is Classification.AUTO_REPLY


def test_a_null_envelope_sender_is_automatic():
    assert classified(mail(), mail_from="") is Classification.AUTO_REPLY


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.com"])
def test_mail_from_the_mail_system_is_a_bounce(sender: str):
    assert classified(mail(From=sender)) is Classification.BOUNCE


def test_our_loop_header_marks_our_own_mail_coming_back():
    raw = mail(**{LOOP_HEADER.replace("-", "_"): "t42", "Auto_Submitted": "auto-generated"})

    assert classified(raw) is Classification.LOOP
