"""The attachment policy through the pipeline: every file kept, what it holds back forwarded
nowhere and marked in the export, until released."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from threadline.core.admin.attachments import held_files, release
from threadline.core.export import export_tickets
from threadline.core.message_files import message_files
from threadline.core.models import Attachment, Message
from threadline.core.normalized import InboundAttachment
from threadline.core.settings import AttachmentSettings
from threadline.daemon import channels

ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64


def test_held_files_are_kept_noted_marked_and_forwarded_nowhere_until_released(
    sessions: sessionmaker[Session],
):
    policy = AttachmentSettings(max_bytes=1000, blocked_extensions=["EXE", ".scr"])
    desk = desk_pipeline(sessions, attachments=policy)
    files = (
        InboundAttachment("photo.jpg", "image/jpeg", b"\xff\xd8\xff" + b"x" * 100),
        InboundAttachment("huge.zip", "application/zip", b"x" * 1001),
        InboundAttachment("Setup.EXE", "application/octet-stream", b"x"),
        InboundAttachment("notes.txt", "text/plain", ELF),
    )
    outcome = desk.deliver(replace(email("ada@example.com", "files@mail"), attachments=files))

    with sessions() as session:
        stored = dict(session.execute(select(Attachment.filename, Attachment.quarantined)).all())
        assert [f.filename for f in message_files(session, outcome.message_id)] == ["photo.jpg"]
        note = session.scalars(select(Message.body).where(Message.is_system_message)).one()
        (document,) = export_tickets(session, channels.traits())
    assert stored["photo.jpg"] is None
    assert stored["huge.zip"].startswith("1001 bytes, over the limit of 1000")
    assert stored["Setup.EXE"].startswith("its extension .exe is blocked")
    assert stored["notes.txt"].startswith("its content is application/x-executable")
    assert note.startswith("Held back (quarantined), kept but not forwarded:\nhuge.zip: 1001 bytes")
    marks = {
        a["filename"]: a["quarantined"] for m in document["messages"] for a in m["attachments"]
    }
    assert marks == stored

    with sessions.begin() as session:
        (held,) = [f for f in held_files(session) if f.filename == "notes.txt"]
        assert release(session, held.id, desk.clock.now) == ("notes.txt", ELF)
    with sessions() as session:
        forwarded = [f.filename for f in message_files(session, outcome.message_id)]
    assert forwarded == ["photo.jpg", "notes.txt"]
