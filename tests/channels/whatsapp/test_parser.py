"""What a Twilio webhook means, without any server."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from threadline.channels.whatsapp import MESSAGE, STATUS
from threadline.channels.whatsapp.parser import parse
from threadline.core.normalized import Receipt
from threadline.core.outcome import Park


def parsed(kind: str = MESSAGE, **form: str):
    return parse(urlencode(form).encode(), {"kind": kind})


def test_a_message_continues_the_clients_ticket_unless_it_quotes_one():
    inbound = parsed(MessageSid="SM1", From="whatsapp:+14155550100", Body=" Hi ", ProfileName="Ada")
    assert (inbound.sender.type, inbound.sender.value) == ("whatsapp", "whatsapp:+14155550100")
    assert inbound.sender.display_name == "Ada"
    assert (inbound.body, inbound.hints.own_id, inbound.hints.threadless) == ("Hi", "SM1", True)
    quoting = parsed(
        MessageSid="SM2", From="whatsapp:+1", Body="x", OriginalRepliedMessageSid="SM1"
    )
    assert quoting.hints.in_reply_to == ("SM1",)


def test_a_status_callback_is_a_delivery_report_with_the_meaning_of_its_error():
    report = parsed(
        STATUS, MessageSid="SM9", MessageStatus="undelivered", ErrorCode="63016", To="whatsapp:+1"
    )
    (receipt,) = report.receipts
    assert receipt.provider_id == "SM9"
    assert receipt.status == "failed"
    assert receipt.error.startswith("Twilio error 63016: free text outside the client's 24-hour")
    assert parsed(STATUS, MessageSid="SM9", MessageStatus="read", To="x").receipts == (
        Receipt("SM9", "read"),
    )


def test_what_is_no_twilio_webhook_is_parked_saying_so():
    with pytest.raises(Park, match="not a Twilio webhook"):
        parse(b"Body=no+sid", {"kind": MESSAGE})
    with pytest.raises(Park, match="unknown Twilio message status"):
        parsed(STATUS, MessageSid="SM9", MessageStatus="teleported", To="x")
