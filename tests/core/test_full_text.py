"""Every message keeps the full text it came with (quotes, signature, forwarded mail), in
``message_texts`` where it says more than the body, after its raw item is purged."""

from __future__ import annotations

import json
from dataclasses import replace

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.export import export_tickets
from threadline.core.models import Message, MessageText
from threadline.daemon import channels
from threadline.daemon.cli.main import cli

QUOTED = "Still broken.\n\nOn Mon, 2 Mar 2026, Support wrote:\n> Please restart it."


def test_the_full_text_is_kept_where_it_says_more_than_the_body(
    sessions: sessionmaker[Session], db_url: str
):
    desk = desk_pipeline(sessions)
    desk.deliver(
        replace(email("ada@example.com", "q@mail", body="Still broken."), full_text=QUOTED)
    )
    desk.deliver(email("bob@example.com", "p@mail", body="Nothing quoted."))

    with sessions() as session:
        texts = session.execute(select(MessageText.message_id, MessageText.full_text)).all()
        bodies = dict(session.execute(select(Message.id, Message.body)).all())
        exported = list(export_tickets(session, channels.traits()))
    ((message_id, full_text),) = texts
    assert (bodies[message_id], full_text) == ("Still broken.", QUOTED)
    assert [d["messages"][0]["full_text"] for d in exported] == [QUOTED, "Nothing quoted."]

    env = {"THREADLINE_DATABASE__URL": db_url, "THREADLINE_CONFIG": None}
    shown = CliRunner().invoke(cli, ["tickets", "show", "1", "--full"], env=env)
    brief = CliRunner().invoke(cli, ["tickets", "show", "1"], env=env)
    as_json = CliRunner().invoke(cli, ["tickets", "show", "1", "--format", "json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "    > Please restart it." in shown.output.splitlines()
    assert "Please restart it." not in brief.output
    assert json.loads(as_json.output)["messages"][0]["full_text"] == QUOTED
