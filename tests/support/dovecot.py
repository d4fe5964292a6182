"""A throwaway Dovecot IMAP server from the machine's binaries, for the suite and the benchmarks.

One server offers everything the poller speaks: plain IMAP with STARTTLS on one port, implicit
TLS on another (with a self-signed certificate that ``ca_file`` trusts), and XOAUTH2 whose
access tokens are JWTs Dovecot validates itself, so an expired token is refused the way a real
provider refuses it. Any user name logs in with :data:`PASSWORD` and gets a maildir of its own:
each test takes a fresh user and never sees another test's mail.

``imap-login`` refuses to run as root, so as root the login processes run as ``dovenull`` and
the mail belongs to ``mail``; as any other user, everything runs as that user.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support.ports import free_ports
from tests.support.processes import terminate

PASSWORD = "imap-test-password"
HOST = "127.0.0.1"
START_TIMEOUT_S = 15
CLIENT_TIMEOUT_S = 30


class DovecotUnavailable(RuntimeError):
    """No Dovecot here; the message says how to install it."""


@dataclass
class DovecotServer:
    process: subprocess.Popen[bytes]
    directory: Path
    port: int
    """Plain IMAP, with STARTTLS offered."""
    ssl_port: int
    """IMAP over implicit TLS."""
    token_key: bytes
    """HMAC key of the XOAUTH2 access tokens Dovecot accepts."""

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate, to trust for the TLS tests."""
        return self.directory / "cert.pem"

    def stop(self) -> None:
        terminate(self.process, START_TIMEOUT_S)
        shutil.rmtree(self.directory, ignore_errors=True)

    def access_token(self, user: str, lifetime: float = 600.0) -> str:
        """An HS256 JWT for ``user``; a negative lifetime gives one that expired already."""
        now = int(time.time())
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": user, "iat": now - 60, "exp": now + int(lifetime)}
        payload = _b64url(json.dumps(claims).encode())
        signed = f"{header}.{payload}".encode()
        signature = _b64url(hmac.new(self.token_key, signed, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    @contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in plain connection, as a mail client of the test would hold it."""
        client = IMAPClient(HOST, self.port, ssl=False, timeout=CLIENT_TIMEOUT_S)
        try:
            client.login(user, PASSWORD)
            yield client
        finally:
            client.logout()

    def account(self, user: str) -> Account:
        return Account(self, user)


@dataclass
class Account:
    """What a test does to one user's mail from the outside: deliver, look, rearrange."""

    server: DovecotServer
    user: str

    def append(self, *mails: bytes, folder: str = "INBOX", flags: Sequence[bytes] = ()) -> None:
        """Deliver mails in order, many per MULTIAPPEND command."""
        with self.server.client(self.user) as client:
            for start in range(0, len(mails), 500):
                chunk = mails[start : start + 500]
                client.multiappend(folder, [{"msg": mail, "flags": flags} for mail in chunk])

    def flags(self, folder: str = "INBOX") -> dict[int, set[bytes]]:
        """Flags of every mail in the folder, by UID."""
        with self.server.client(self.user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search()
            found = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: set(data[b"FLAGS"]) for uid, data in found.items()}

    def uids(self, folder: str = "INBOX") -> list[int]:
        return sorted(self.flags(folder))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.server.client(self.user) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def create(self, folder: str) -> None:
        with self.server.client(self.user) as client:
            client.create_folder(folder)

    def delete(self, folder: str) -> None:
        with self.server.client(self.user) as client:
            client.delete_folder(folder)


def find_dovecot() -> Path:
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.access(found, os.X_OK):
        raise DovecotUnavailable(
            "Dovecot not found: install the 'dovecot-imapd' package (apt-get install dovecot-imapd)"
        )
    return Path(found)


def dovecot_for_tests(extra_config: str = "") -> DovecotServer:
    """:func:`start_dovecot`, or the test skipped where the machine has no Dovecot; under
    ``CI=true`` a missing Dovecot fails the run instead."""
    try:
        return start_dovecot(extra_config)
    except DovecotUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Dovecot: {error}")
        pytest.skip(str(error))


def start_dovecot(extra_config: str = "") -> DovecotServer:
    """Start a private server on free loopback ports; raises DovecotUnavailable.

    ``extra_config`` is appended to the configuration, e.g. ``imap_capability = IMAP4rev1`` for
    a server that offers none of the extensions the poller prefers.
    """
    binary = find_dovecot()
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DovecotUnavailable("openssl not found: install the 'openssl' package")
    directory = Path(tempfile.mkdtemp(prefix="threadline-dovecot-"))
    # The unprivileged login and mail processes must reach their sockets and maildirs below.
    directory.chmod(0o755)
    users = _users()
    mail = directory / "mail"
    keys = directory / "keys" / "default" / "HS256"
    for path in (directory / "run", directory / "state", mail, keys):
        path.mkdir(parents=True)
    shutil.chown(mail, users.mail, users.mail)
    token_key = secrets.token_bytes(32)
    (keys / "default").write_text(base64.b64encode(token_key).decode())
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"),
            *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    port, ssl_port = free_ports(2)
    config = directory / "dovecot.conf"
    config.write_text(_config(directory, users, port, ssl_port) + extra_config)
    (directory / "oauth2.conf").write_text(
        "introspection_mode = local\n"
        f"local_validation_key_dict = fs:posix:prefix={directory / 'keys'}/\n"
        "username_attribute = sub\n"
    )
    log = (directory / "master.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "-F", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = DovecotServer(process, directory, port, ssl_port, token_key)
    try:
        _wait_for_greeting(server)
    except DovecotUnavailable:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class _Users:
    login: str
    internal: str
    internal_group: str
    mail: str


def _users() -> _Users:
    if os.geteuid() == 0:
        return _Users("dovenull", "dovecot", "dovecot", "mail")
    me = pwd.getpwuid(os.geteuid()).pw_name
    return _Users(me, me, grp.getgrgid(os.getegid()).gr_name, me)


def _config(directory: Path, users: _Users, port: int, ssl_port: int) -> str:
    return f"""\
base_dir = {directory / "run"}
state_dir = {directory / "state"}
log_path = {directory / "dovecot.log"}
protocols = imap
listen = {HOST}
default_login_user = {users.login}
default_internal_user = {users.internal}
default_internal_group = {users.internal_group}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
ssl = yes
ssl_cert = <{directory / "cert.pem"}
ssl_key = <{directory / "key.pem"}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {directory / "oauth2.conf"}
}}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={users.mail} gid={users.mail} home={directory / "mail"}/%u
}}
# No chroot: an unprivileged user may not, and a test server needs no jail.
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {ssl_port}
    ssl = yes
  }}
}}
# Tests fail logins on purpose; the brute-force penalty would slow every later login.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _wait_for_greeting(server: DovecotServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with socket.create_connection((HOST, server.port), timeout=2) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            tails = [
                path.read_text(errors="replace")[-2000:]
                for path in (server.directory / "master.log", server.directory / "dovecot.log")
                if path.exists()
            ]
            raise DovecotUnavailable("Dovecot did not start:\n" + "\n".join(tails))
        time.sleep(0.05)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
