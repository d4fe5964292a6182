"""Connecting and logging in to Dovecot: TLS both ways, passwords, and XOAUTH2 access tokens
that Dovecot validates itself (signed JWTs, so an expired one is refused as a provider would)."""

from __future__ import annotations

import shlex
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.dovecot import Account
from tests.support.imap import mailbox
from threadline.channels.email.imap_auth import LoginRefused, TokenError
from threadline.channels.email.imap_connection import connect

TOKEN_COMMAND = """\
import pathlib, sys
runs = pathlib.Path(sys.argv[1])
count = int(runs.read_text()) if runs.exists() else 0
runs.write_text(str(count + 1))
tokens = pathlib.Path(sys.argv[2]).read_text().split()
print(tokens[min(count, len(tokens) - 1)])
"""


def logs_in(account: Account, **overrides: Any) -> bool:
    client = connect(mailbox(account, **overrides))
    try:
        return client.select_folder("INBOX")[b"UIDVALIDITY"] > 0
    finally:
        client.logout()


def token_command(tmp_path: Path, *tokens: str) -> tuple[str, Path]:
    """A command printing the given tokens one per run (then the last again), and the file
    counting its runs."""
    script = tmp_path / "token.py"
    script.write_text(TOKEN_COMMAND)
    (tmp_path / "tokens").write_text("\n".join(tokens))
    runs = tmp_path / "runs"
    words = [sys.executable, str(script), str(runs), str(tmp_path / "tokens")]
    return shlex.join(words), runs


def test_password_over_implicit_tls_trusting_the_servers_certificate(account: Account):
    assert logs_in(
        account,
        port=account.server.ssl_port,
        security="ssl",
        tls_ca_file=str(account.server.ca_file),
    )


def test_password_after_starttls(account: Account):
    assert logs_in(account, security="starttls", tls_ca_file=str(account.server.ca_file))


def test_a_certificate_nobody_vouches_for_is_refused(account: Account):
    with pytest.raises(ssl.SSLCertVerificationError):
        logs_in(account, port=account.server.ssl_port, security="ssl")


def test_a_wrong_password_says_whose_and_what_to_check(account: Account):
    with pytest.raises(LoginRefused, match=f"refused the password of '{account.user}'"):
        logs_in(account, password="wrong")


def test_xoauth2_with_the_token_from_a_file(account: Account, tmp_path: Path):
    token = tmp_path / "token"
    token.write_text(account.server.access_token(account.user) + "\n")
    assert logs_in(account, password="", oauth2_token_file=str(token))


def test_an_expired_token_in_an_unchanged_file_is_refused(account: Account, tmp_path: Path):
    token = tmp_path / "token"
    token.write_text(account.server.access_token(account.user, lifetime=-60))
    with pytest.raises(LoginRefused, match="refused the access token"):
        logs_in(account, password="", oauth2_token_file=str(token))


def test_a_refused_token_is_fetched_again_once_and_the_fresh_one_logs_in(
    account: Account, tmp_path: Path
):
    server = account.server
    expired = server.access_token(account.user, lifetime=-60)
    command, runs = token_command(tmp_path, expired, server.access_token(account.user))
    assert logs_in(account, password="", oauth2_token_command=command)
    assert runs.read_text() == "2"


def test_a_token_refused_twice_is_not_tried_a_third_time(account: Account, tmp_path: Path):
    server = account.server
    first = server.access_token(account.user, lifetime=-60)
    command, runs = token_command(tmp_path, first, server.access_token(account.user, -30))
    with pytest.raises(LoginRefused, match="refused the renewed access token"):
        logs_in(account, password="", oauth2_token_command=command)
    assert runs.read_text() == "2"


def test_a_failing_token_command_is_reported_with_its_exit_status(account: Account):
    command = shlex.join([sys.executable, "-c", "import sys; sys.exit('no refresh token')"])
    with pytest.raises(TokenError, match="exited with 1: no refresh token"):
        logs_in(account, password="", oauth2_token_command=command)


def test_a_missing_token_file_is_reported_with_its_key(account: Account, tmp_path: Path):
    missing = tmp_path / "absent"
    with pytest.raises(TokenError, match=f"oauth2_token_file {missing}: cannot read"):
        logs_in(account, password="", oauth2_token_file=str(missing))
