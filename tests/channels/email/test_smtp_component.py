"""``threadline run`` listening for mail: a delivery becomes an inbound item that wakes the
processor at once (a ticket within seconds), the listener shows on /healthz, and what stops it
from listening stops the start in one line."""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.test_daemon_pipeline import wait_for
from tests.daemon.test_daemon_process import assert_one_line_error
from tests.support.daemon import free_port
from threadline.channels.component import State
from threadline.channels.email.listener import MailListener
from threadline.channels.email.smtp_component import SmtpListener
from threadline.core.db import make_engine, session_factory
from threadline.core.intake import Intake
from threadline.core.migrate import upgrade
from threadline.core.models import InboundItem, Ticket
from threadline.daemon.settings import settings_model

MAIL = (
    b"From: Ada <ada@example.com>\r\nTo: support@localhost\r\nSubject: Printer\r\n"
    b"Message-ID: <daemon-smtp@example.com>\r\n\r\nIt is on fire.\r\n"
)


def listen_on(port: int) -> dict[str, str]:
    # The processor sweeps only every 60 s: an item handled sooner proves the listener woke it.
    return {
        "THREADLINE_SMTP__LISTEN": f"127.0.0.1:{port}",
        "THREADLINE_INTAKE__SWEEP_INTERVAL": "60",
    }


def test_mail_delivered_to_the_daemon_becomes_a_ticket_at_once(
    start_daemon: Any, db_url: str, sessions: sessionmaker[Session]
) -> None:
    port = free_port()
    daemon = start_daemon(db_url, env=listen_on(port))
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        refused = client.sendmail("ada@example.com", ["support@localhost"], MAIL)
    assert refused == {}

    def ticket_title() -> str | None:
        with sessions() as session:
            return session.scalar(select(Ticket.title))

    assert wait_for(ticket_title, timeout=10) == "Printer"
    with sessions() as session:
        item = session.scalars(select(InboundItem)).one()
    assert (item.channel, item.raw, item.status) == ("email", MAIL, "done")
    assert item.meta["rcpt_tos"] == ["support@localhost"]
    health = json.loads(daemon.get("/healthz")[1])
    assert health["components"]["smtp"] == {"state": "idle"}
    samples = metrics(daemon)
    assert samples[("threadline_inbound_accepted_total", (("channel", "email"),))] == 1
    done = (("channel", "email"), ("outcome", "done"))
    assert samples[("threadline_inbound_processed_total", done)] == 1
    parked = (("channel", "email"), ("outcome", "parked"))
    assert samples[("threadline_inbound_processed_total", parked)] == 0
    assert samples[("threadline_accept_to_stored_seconds_count", (("channel", "email"),))] == 1
    intake_pending = (("queue", "intake"), ("status", "pending"))
    assert samples[("threadline_queue_depth", intake_pending)] == 0
    assert samples[("threadline_queue_oldest_pending_age_seconds", (("queue", "intake"),))] == 0
    assert ("threadline_scheduler_job_runs_total", (("job_id", "intake_sweep"),)) in samples
    assert daemon.stop() == 0


def metrics(daemon: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by name and sorted labels."""
    status, body = daemon.get("/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_smtp_port_in_use_refuses_in_one_line(start_daemon: Any, sqlite_db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = start_daemon(sqlite_db_url, env=listen_on(port), wait=False)
        assert_one_line_error(daemon, f"cannot listen on smtp.listen 127.0.0.1:{port}", "in use")


def test_an_unreadable_tls_key_refuses_in_one_line_naming_it(
    start_daemon: Any, sqlite_db_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "missing-key.pem"
    env = {
        "THREADLINE_SMTP__TLS_CERTIFICATE": str(tmp_path / "cert.pem"),
        "THREADLINE_SMTP__TLS_KEY": str(missing),
    }
    (tmp_path / "cert.pem").write_text("not a certificate")
    daemon = start_daemon(sqlite_db_url, env=env, wait=False)
    assert_one_line_error(daemon, "smtp.tls_key", str(missing))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_disabled_listener_does_not_listen(start_daemon: Any, db_url: str) -> None:
    port = free_port()
    daemon = start_daemon(db_url, env={**listen_on(port), "THREADLINE_SMTP__ENABLED": "false"})
    assert "smtp" not in json.loads(daemon.get("/healthz")[1])["components"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert daemon.stop() == 0


async def test_the_listener_is_failing_until_a_mail_is_accepted_again(empty_db_url: str) -> None:
    settings = settings_model().model_validate(
        {"database": {"url": empty_db_url}, "smtp": {"listen": f"127.0.0.1:{free_port()}"}}
    )
    engine = make_engine(empty_db_url)
    intake = Intake(session_factory(engine))
    listener = SmtpListener(MailListener(intake, settings.email, settings.smtp))
    assert listener.state is State.STARTING
    await listener.start()
    try:
        assert listener.state is State.IDLE
        refused = await asyncio.to_thread(send, listener.listen.port)
        assert listener.state is State.FAILING
        assert listener.last_error

        await asyncio.to_thread(upgrade, engine)
        assert await asyncio.to_thread(send, listener.listen.port) == {}
        assert (listener.state, listener.last_error) == (State.IDLE, None)
    finally:
        await listener.close(timeout=5)
        engine.dispose()
    assert listener.state is State.STOPPED
    assert refused == 451


def send(port: int, raw: bytes = MAIL) -> dict[str, Any] | int:
    """The refusals of sendmail, or the code of a refused DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        try:
            return client.sendmail("ada@example.com", ["support@localhost"], raw)
        except smtplib.SMTPDataError as error:
            return error.smtp_code


async def test_a_mail_with_a_nul_in_its_message_id_is_accepted_and_the_listener_stays_well(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    """Anyone who can send mail can send this one: refused by PostgreSQL as a key, it was
    answered 451 for ever and turned /healthz to 503."""
    settings = settings_model().model_validate({"smtp": {"listen": f"127.0.0.1:{free_port()}"}})
    listener = SmtpListener(MailListener(Intake(sessions), settings.email, settings.smtp))
    await listener.start()
    try:
        raw = MAIL.replace(b"<daemon-smtp@example.com>", b"<nul\x00inside@example.com>")
        assert await asyncio.to_thread(send, listener.listen.port, raw) == {}
        assert (listener.state, listener.last_error) == (State.IDLE, None)
    finally:
        await listener.close(timeout=5)
    with sessions() as session:
        item = session.scalars(select(InboundItem)).one()
    assert (item.raw, "\x00" not in item.dedup_key) == (raw, True)


async def test_a_nul_in_the_envelope_is_stored_without_it_on_either_database(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    """The envelope reaches the item's meta, which PostgreSQL's JSONB refuses with a NUL."""
    settings = settings_model().model_validate({"smtp": {"listen": f"127.0.0.1:{free_port()}"}})
    listener = SmtpListener(MailListener(Intake(sessions), settings.email, settings.smtp))
    await listener.start()

    def send_with_nul_envelope() -> dict[str, Any]:
        with smtplib.SMTP("127.0.0.1", listener.listen.port, timeout=10) as client:
            return client.sendmail("ada\x00x@example.com", ["support\x00@localhost"], MAIL)

    try:
        assert await asyncio.to_thread(send_with_nul_envelope) == {}
        assert (listener.state, listener.last_error) == (State.IDLE, None)
    finally:
        await listener.close(timeout=5)
    with sessions() as session:
        item = session.scalars(select(InboundItem)).one()
    assert item.meta is not None
    assert item.meta["mail_from"] == "adax@example.com"
    assert item.meta["rcpt_tos"] == ["support@localhost"]
