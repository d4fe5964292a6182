"""Three ``threadline run`` processes on one PostgreSQL with every channel on: mail through the
test's smarthost sink, one IMAP mailbox they all list, Slack and WhatsApp against the local fakes.
A member can be killed and started again on its own configuration, as systemd restarts a unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.daemon import DaemonProcess, eventually, write_config
from tests.support.desk_process import run_threadline
from tests.support.dovecot import PASSWORD, Account
from tests.support.fake_slack import FakeSlack
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support.imap import mailbox_toml
from tests.support.ports import free_port
from tests.support.smtp_sink import SmtpSink

DESK = "support@desk.example"
DESK_NUMBER = "+14155238886"
PUBLIC_URL = "https://desk.example.com/hooks"
"""What Twilio calls: a proxy's URL, which no daemon listens on."""
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
AGENTS = (("Grace Hopper", "grace@staff.example"), ("Lin Chen", "lin@staff.example"))
LOG_TAIL = 6000
"""Characters of each daemon's log shown when the test fails."""


@dataclass(frozen=True)
class Sinks:
    """Where everything the desk sends arrives."""

    smtp: SmtpSink
    slack: FakeSlack
    twilio: FakeTwilio


@dataclass
class Member:
    """One daemon of the cluster: its configuration and listeners, and each process it ran."""

    config: Path
    directory: Path
    http_port: int
    smtp_port: int
    lives: list[DaemonProcess] = field(default_factory=list)

    @property
    def process(self) -> DaemonProcess:
        return self.lives[-1]

    def start(self) -> DaemonProcess:
        """A process of its own log files: a restart keeps the killed one's log to read."""
        directory = self.directory / f"life-{len(self.lives)}"
        directory.mkdir()
        env = {"THREADLINE_SMTP__LISTEN": f"127.0.0.1:{self.smtp_port}"}
        self.lives.append(DaemonProcess(self.config, self.http_port, directory, env))
        return self.process

    def logged(self, event: str) -> bool:
        return any(line.get("event") == event for life in self.lives for line in life.log_lines())


@dataclass
class DeskCluster:
    members: list[Member]

    @property
    def http_ports(self) -> list[int]:
        return [member.http_port for member in self.members]

    @property
    def smtp_ports(self) -> list[int]:
        return [member.smtp_port for member in self.members]

    def kill_and_restart(self, number: int) -> DaemonProcess:
        """SIGKILL, then the same configuration started again once another member has taken
        the IMAP mailbox over (at once when the killed one held it); serving when returned."""
        member = self.members[number]
        member.process.kill()
        others = [other for other in self.members if other is not member]
        eventually(
            "another daemon polls the mailbox",
            lambda: any(other.logged("imap mailbox taken over") for other in others),
            timeout=30,
        )
        restarted = member.start()
        restarted.wait_until_serving()
        return restarted

    def logs(self) -> str:
        return "\n".join(
            f"--- daemon {number}, life {life}:\n{process.stdout[-LOG_TAIL:]}"
            f"{process.stderr[-LOG_TAIL:]}"
            for number, member in enumerate(self.members)
            for life, process in enumerate(member.lives)
        )


@contextmanager
def desk_cluster(
    directory: Path, db_url: str, sinks: Sinks, account: Account, size: int = 3
) -> Iterator[DeskCluster]:
    """``threadline db upgrade`` and the agents on ``db_url``, then ``size`` daemons, the first
    the mailbox's holder; each process still running on leaving is killed."""
    password = directory / "imap-password"
    password.write_text(PASSWORD)
    members = []
    for number in range(size):
        home = directory / f"daemon-{number}"
        home.mkdir()
        http_port, smtp_port = free_port(), free_port()
        config = write_config(home / "config.toml", db_url, http_port)
        with config.open("a", encoding="utf-8") as file:
            file.write(_channels(sinks) + mailbox_toml(account, password, poll_interval=1))
        members.append(Member(config, home, http_port, smtp_port))
    cluster = DeskCluster(members)
    try:
        run_threadline(members[0].config, "db", "upgrade")
        for name, address in AGENTS:
            run_threadline(members[0].config, "users", "add", name, address)
        first = members[0].start()
        first.wait_until_serving()
        first.wait_for_log("imap mailbox connected", timeout=15)
        for member in members[1:]:
            member.start()
        for member in members[1:]:
            member.process.wait_until_serving()
            member.process.wait_for_log("imap mailbox polled elsewhere", timeout=15)
        yield cluster
    finally:
        for member in members:
            for process in member.lives:
                process.kill()


def _channels(sinks: Sinks) -> str:
    """Every channel on, retries due within a second, and the leases of a killed daemon
    freed within a second rather than the default 15."""
    return (
        f'\n[email]\naddress = "{DESK}"\ndomains = ["desk.example"]\n'
        f'\n[smarthost]\nhost = "127.0.0.1"\nport = {sinks.smtp.port}\ntimeout = 10\n'
        "\n[intake]\nretry_initial = 0.2\nretry_maximum = 1\nsweep_interval = 1\n"
        "\n[dispatch]\nretry_initial = 0.2\nretry_maximum = 1\nsweep_interval = 1\n"
        f'\n[slack]\nenabled = true\nsigning_secret = "{SIGNING_SECRET}"\n'
        f'bot_token = "{sinks.slack.token}"\napi_base_url = "{sinks.slack.api_url}"\n'
        f'\n[whatsapp]\nenabled = true\naccount_sid = "{ACCOUNT_SID}"\n'
        f'auth_token = "{AUTH_TOKEN}"\nfrom_number = "{DESK_NUMBER}"\n'
        f'public_url = "{PUBLIC_URL}"\napi_base_url = "{sinks.twilio.url}"\n'
        "\n[scheduler.jobs.lease_recovery]\ninterval = 1\n"
    )
