"""Logging in to an IMAP mailbox: a password, or an XOAUTH2 access token from a file or a command.

Access tokens expire (within an hour at most providers) and whatever renews them (a timer that
rewrites the file, a helper that prints a fresh one) is outside threadline. So the token is read
anew for every login, and read once more when the server refuses it: a token renewed between the
two reads still gets in, and a refusal of the same token twice is not attempted.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from threadline.channels.email.settings import MailboxSettings

TOKEN_COMMAND_TIMEOUT_S = 30.0


class TokenError(Exception):
    """No access token could be had; says from where and why, never the token."""


class LoginRefused(Exception):
    """The server refused the credentials; the operator has to fix them."""


def login(client: IMAPClient, settings: MailboxSettings) -> None:
    """Authenticate with whichever credential the mailbox has (the settings allow exactly one)."""
    if settings.password:
        try:
            client.login(settings.username, settings.password)
        except LoginError as error:
            raise _refused(settings, "password", error) from None
        return
    token = read_token(settings)
    try:
        _xoauth2(client, settings.username, token)
        return
    except LoginError as error:
        fresh = read_token(settings)
        if fresh == token:
            raise _refused(settings, "access token", error) from None
    try:
        _xoauth2(client, settings.username, fresh)
    except LoginError as error:
        raise _refused(settings, "renewed access token", error) from None


def read_token(settings: MailboxSettings) -> str:
    """The current access token, from ``oauth2_token_file`` or ``oauth2_token_command``."""
    if settings.oauth2_token_file:
        source = f"oauth2_token_file {settings.oauth2_token_file}"
        try:
            text = Path(settings.oauth2_token_file).read_text(encoding="utf-8")
        except OSError as error:
            raise TokenError(f"{source}: cannot read: {error.strerror}") from None
    else:
        source = "oauth2_token_command"
        text = _run(settings.oauth2_token_command)
    token = text.strip()
    if not token:
        raise TokenError(f"{source}: gave no token")
    return token


def _run(command: str) -> str:
    try:
        result = subprocess.run(
            shlex.split(command),
            capture_output=True,
            text=True,
            timeout=TOKEN_COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        raise TokenError(f"oauth2_token_command failed: {error}") from None
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1:] or ["no message"]
        raise TokenError(f"oauth2_token_command exited with {result.returncode}: {last[0]}")
    return result.stdout


def _xoauth2(client: IMAPClient, username: str, token: str) -> None:
    response = f"user={username}\x01auth=Bearer {token}\x01\x01"
    # The first challenge is empty. A refusal comes as a second challenge carrying the server's
    # JSON error, which must be answered with an empty response for the server to send its NO.
    client.sasl_login("XOAUTH2", lambda challenge: "" if challenge else response)


def _refused(settings: MailboxSettings, what: str, error: LoginError) -> LoginRefused:
    reply = error.args[0] if error.args else ""
    if isinstance(reply, bytes):
        reply = reply.decode(errors="replace")
    return LoginRefused(
        f"{settings.host} refused the {what} of {settings.username!r} ({reply}); "
        "check this mailbox's credentials"
    )
