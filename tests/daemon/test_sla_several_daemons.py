"""Three ``threadline run`` processes on one PostgreSQL, with SLA targets due within seconds:
every warning and every breach reaches the sink exactly once."""

from __future__ import annotations

import smtplib
from collections import Counter
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import DaemonProcess, eventually, write_config
from tests.support.desk_process import run_threadline
from tests.support.ports import free_port
from tests.support.smtp_sink import SmtpSink
from threadline.core.models import OutboxItem, Reminder

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

GRACE, LIN = "grace@staff.example", "lin@staff.example"
CLIENTS = ("ada@client.example", "bob@client.example", "cy@client.example")
SLA = """
[routing]
default_department = "Support"

[sla]
warn_minutes = 0.4
department_after_minutes = 0
[[sla.targets]]
first_response = 0.5

[scheduler.jobs.sla]
interval = 1
"""
"""Due 30 s after a ticket opens, warned from its 6th second on: time enough for a loaded
machine to run the job in the warning's window."""
WAIT_S = 90.0


def config(directory: Path, db_url: str, sink_port: int) -> tuple[Path, int]:
    http_port = free_port()
    path = write_config(directory / "config.toml", db_url, http_port)
    with path.open("a", encoding="utf-8") as file:
        file.write(
            '\n[email]\naddress = "support@desk.example"\ndomains = ["desk.example"]\n'
            f'\n[smarthost]\nhost = "127.0.0.1"\nport = {sink_port}\ntimeout = 10\n'
            "\n[dispatch]\nsweep_interval = 1\n" + SLA
        )
    return path, http_port


def test_each_warning_and_breach_is_delivered_once_by_three_daemons(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session]
) -> None:
    with SmtpSink() as sink:
        daemons: list[tuple[DaemonProcess, int]] = []
        try:
            for number in range(3):
                directory = tmp_path / f"daemon{number}"
                directory.mkdir()
                path, http_port = config(directory, db_url, sink.port)
                if number == 0:
                    run_threadline(path, "departments", "add", "Support")
                    for name, address in (("Grace", GRACE), ("Lin", LIN)):
                        run_threadline(
                            path, "users", "add", name, address, "--department", "Support"
                        )
                smtp_port = free_port()
                listen = {"THREADLINE_SMTP__LISTEN": f"127.0.0.1:{smtp_port}"}
                daemon = DaemonProcess(path, http_port, directory, listen)
                daemon.wait_until_serving()
                daemons.append((daemon, smtp_port))

            for (_daemon, smtp_port), client in zip(daemons, CLIENTS, strict=True):
                mail = EmailMessage()
                mail["From"], mail["To"], mail["Subject"] = client, "support@desk.example", "Help"
                mail.set_content("Our invoices are wrong.")
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
                    smtp.sendmail(client, ["support@desk.example"], mail.as_bytes(policy=SMTP))

            def reminded() -> list[OutboxItem] | None:
                """Every reminder's stage passed, and every delivery of one sent."""
                with sessions() as session:
                    kinds = session.scalars(select(Reminder.kind)).all()
                    rows = [
                        row
                        for row in session.scalars(select(OutboxItem))
                        if row.payload.get("type", "").startswith("sla_")
                    ]
                # With department_after_minutes = 0 the department's stage passes at the
                # breach, with no one left to tell: both agents had it.
                stages = ("warning", "breach", "department")
                done = Counter(kinds) == {f"first_response:{stage}": 3 for stage in stages}
                if done and len(rows) == 12 and all(row.status == "sent" for row in rows):
                    return rows
                return None

            eventually("every warning and breach sent", reminded, WAIT_S)

            def at_sink() -> Counter[tuple[str, str]] | None:
                seen = Counter(
                    (received.rcpt_tos[0], received.message["Subject"].split("]")[1].split(":")[0])
                    for received in sink.received
                    if "Response" in received.message["Subject"]
                )
                return seen if sum(seen.values()) >= 12 else None

            seen = eventually("the reminders at the sink", at_sink, WAIT_S)
            assert seen == {
                (GRACE, " Response due soon"): 3,
                (LIN, " Response due soon"): 3,
                (GRACE, " Response overdue"): 3,
                (LIN, " Response overdue"): 3,
            }
        finally:
            for daemon, _port in daemons:
                daemon.kill()
