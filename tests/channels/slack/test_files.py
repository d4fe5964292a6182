"""Files both ways: a customer's files fetched with the bot token (retried, or noted on the
message when they cannot be had), an agent's attachments uploaded into the client's thread."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select

from tests.channels.slack.conftest import AGENT_EMAIL, WAIT_S, SlackDesk
from tests.support.daemon import eventually
from threadline.core.models import Attachment, Blob

REPORT = b"%PDF-1.4 the quarterly report\n"


def file_event(desk: SlackDesk, url: str, name: str = "report.pdf") -> dict[str, Any]:
    files = [
        {
            "id": "F0REPORT",
            "name": name,
            "mimetype": "application/pdf",
            "size": len(REPORT),
            "url_private": url,
            "url_private_download": url,
        }
    ]
    return desk.message("Here is the report.", subtype="file_share", files=files)


def stored_files(desk: SlackDesk) -> list[tuple[str, bytes]]:
    with desk.sessions() as session:
        rows = session.execute(
            select(Attachment.filename, Blob.content).join(Blob, Blob.sha256 == Attachment.sha256)
        )
        return [(name, content) for name, content in rows]


def test_a_file_that_fails_to_download_is_fetched_on_a_later_try(slack_desk: SlackDesk):
    desk = slack_desk
    # Three tries within the item's first attempt fail, the item is retried, and then it comes.
    url = desk.slack.host_file("report.pdf", REPORT, "application/pdf", failures=4)

    desk.send(file_event(desk, url))

    (item,) = desk.settled()
    assert (item.status, item.attempts) == ("done", 1)  # one failed try before
    assert stored_files(desk) == [("report.pdf", REPORT)]
    assert desk.slack.downloads("report.pdf") == 5
    assert [m.body for m in desk.messages()] == ["Here is the report."]


def test_a_file_slack_will_not_give_leaves_the_message_stored_saying_so(slack_desk: SlackDesk):
    desk = slack_desk
    url = desk.slack.host_file("gone.pdf", REPORT, failures=1, failure_status=404)

    desk.send(file_event(desk, url, name="gone.pdf"))

    (item,) = desk.settled()
    assert item.status == "done"
    assert stored_files(desk) == []
    (message,) = desk.messages()
    assert message.body == (
        "Here is the report.\n[File gone.pdf not kept: Slack answered HTTP 404]"
    )


def test_an_agents_attachment_is_uploaded_into_the_clients_thread(slack_desk: SlackDesk):
    desk = slack_desk
    question = desk.message("Can I have the invoice?")
    desk.send(question)
    notification = eventually("the agent's mail", lambda: desk.sink.received)[0].message
    (reply_to,) = notification["Reply-To"].addresses
    answer = EmailMessage()
    answer["From"] = f"Grace Hopper <{AGENT_EMAIL}>"
    answer["To"] = reply_to.addr_spec
    answer["Subject"] = f"Re: {notification['Subject']}"
    answer["Message-ID"] = "<invoice-1@staff.example>"
    answer.set_content("Here it is.")
    answer.add_attachment(b"INVOICE 42", maintype="application", subtype="pdf", filename="42.pdf")
    with smtplib.SMTP("127.0.0.1", desk.smtp_port, timeout=WAIT_S) as client:
        client.send_message(answer)

    uploads = desk.slack.wait_for_uploads(2)
    (upload,) = [upload for upload in uploads if upload["channel"] == "D0ADA"]
    assert upload["thread_ts"] == question["ts"]
    assert (upload["filename"], upload["content"]) == ("42.pdf", b"INVOICE 42")
    assert upload["initial_comment"] == "Here it is."
