"""``tickets export``: one JSON document per ticket, everything an operator's backup needs."""

from __future__ import annotations

import json
from datetime import datetime

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.export import export_tickets
from threadline.core.models import User
from threadline.core.normalized import InboundAttachment
from threadline.core.tokens import ReplyToken
from threadline.daemon import channels
from threadline.daemon.cli.main import cli


def test_export_carries_the_whole_conversation(sessions: sessionmaker[Session], db_url: str):
    desk = desk_pipeline(sessions)
    with sessions.begin() as session:
        session.add(User(name="Grace", email="grace@desk.example", type="agent"))
    first = email("Ada@Example.com", "e1@mail", subject="Invoice", body="Where is it?")
    first = first.__class__(
        **{
            **first.__dict__,
            "attachments": (InboundAttachment("scan.pdf", "application/pdf", b"%PDF-1.4"),),
        }
    )
    desk.deliver(first)
    with sessions() as session:
        grace = session.query(User).one().id
    token = desk.signer.sign(ReplyToken(1, grace))
    desk.deliver(
        email("grace@desk.example", "e2@mail", body="#tag billing\nAttached.", reply_token=token)
    )

    with sessions() as session:
        (document,) = list(export_tickets(session, channels.traits()))
    assert document["title"] == "Invoice"
    assert document["status"] == "waiting_for_user"
    assert document["client"]["external_ids"] == [{"type": "email", "value": "ada@example.com"}]
    assert document["tags"] == ["billing"]
    client_message, agent_message = document["messages"]
    assert client_message["author"] == {
        "kind": "client",
        "id": document["client"]["id"],
        "address": "ada@example.com",
    }
    assert client_message["refs"] == ["e1@mail"]
    assert client_message["attachments"] == [
        {
            "filename": "scan.pdf",
            "content_type": "application/pdf",
            "size": 8,
            "quarantined": None,
        }
    ]
    assert agent_message["author"]["kind"] == "agent"
    assert agent_message["body"] == "Attached."

    result = CliRunner().invoke(
        cli,
        ["tickets", "export", "--since", "2000-01-01"],
        env={"THREADLINE_DATABASE__URL": db_url, "THREADLINE_CONFIG": None},
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == [document]


def test_export_since_skips_tickets_unchanged_since(sessions: sessionmaker[Session]):
    desk = desk_pipeline(sessions)
    desk.deliver(email("ada@example.com", "old@mail"))
    desk.clock.advance(days=30)
    desk.deliver(email("bob@example.com", "new@mail"))
    with sessions() as session:
        exported = list(export_tickets(session, channels.traits(), since=datetime(2026, 3, 15)))
    assert [d["client"]["external_ids"][0]["value"] for d in exported] == ["bob@example.com"]


def test_export_streams_across_chunks(sessions: sessionmaker[Session], monkeypatch):
    monkeypatch.setattr("threadline.core.export.CHUNK", 3)
    desk = desk_pipeline(sessions)
    for number in range(7):
        desk.deliver(email(f"c{number}@example.com", f"m{number}@mail"))
    with sessions() as session:
        assert [d["id"] for d in export_tickets(session, channels.traits())] == list(range(1, 8))


def test_export_lines_survive_any_line_splitter(sessions: sessionmaker[Session], db_url: str):
    """U+2028, U+2029 and U+0085 are line ends to ``splitlines`` (and to many readers): in a
    message they would cut its ticket's line in two."""
    desk = desk_pipeline(sessions)
    body = "one\u2028two\u2029three\x85four"
    desk.deliver(email("ada@example.com", "breaks@mail", subject="Breaks", body=body))
    desk.deliver(email("bob@example.com", "plain@mail"))

    result = CliRunner().invoke(
        cli,
        ["tickets", "export"],
        env={"THREADLINE_DATABASE__URL": db_url, "THREADLINE_CONFIG": None},
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert "\u2028" not in result.output
    assert "\\u2028" in lines[0]
    assert json.loads(lines[0])["messages"][0]["body"] == body
