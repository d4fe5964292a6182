"""``[[imap.mailboxes]]`` entries: each mistake reported with the TOML key an operator fixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.daemon.config import ConfigError, load_settings

ENTRY = '[[imap.mailboxes]]\nname = "{name}"\nhost = "imap.example.com"\nusername = "desk"\n'


def problems(tmp_path: Path, *entries: str) -> list[str]:
    path = tmp_path / "threadline.toml"
    path.write_text("\n".join(entries))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    return caught.value.problems


def entry(name: str = "support", extra: str = 'password = "pw"\n') -> str:
    return ENTRY.format(name=name) + extra


def test_move_without_a_folder_names_move_to(tmp_path: Path):
    assert problems(tmp_path, entry(extra='password = "pw"\nafter = "move"\n')) == [
        'imap.mailboxes.0.move_to: required with after = "move": the folder stored mails go to'
    ]


def test_move_to_without_move_is_a_mistake(tmp_path: Path):
    found = problems(tmp_path, entry(extra='password = "pw"\nmove_to = "Done"\n'))
    assert found == ['imap.mailboxes.0.move_to: only used with after = "move", but after = "flag"']


def test_moving_into_the_polled_folder_is_refused(tmp_path: Path):
    extra = 'password = "pw"\nafter = "move"\nmove_to = "INBOX"\n'
    assert problems(tmp_path, entry(extra=extra)) == [
        "imap.mailboxes.0.move_to: must be another folder than the one polled"
    ]


@pytest.mark.parametrize(
    ("extra", "found"),
    [
        ("", "none"),
        ('password = "pw"\noauth2_token_file = "/run/token"\n', "password and oauth2_token_file"),
    ],
)
def test_exactly_one_credential(tmp_path: Path, extra: str, found: str):
    assert problems(tmp_path, entry(extra=extra)) == [
        "imap.mailboxes.0: set exactly one of password (or password_file), oauth2_token_file "
        f"and oauth2_token_command; found {found}"
    ]


def test_two_mailboxes_may_not_share_a_name(tmp_path: Path):
    assert problems(tmp_path, entry("support"), entry("sales"), entry("support")) == [
        "imap.mailboxes: mailbox name 'support' is used twice; give each [[imap.mailboxes]] "
        "a name of its own"
    ]


def test_the_second_entry_is_named_by_its_index(tmp_path: Path):
    found = problems(tmp_path, entry("support"), entry("sales", 'password = "pw"\nport = 0\n'))
    assert found == ["imap.mailboxes.1.port: Input should be greater than or equal to 1"]


def test_the_poll_interval_is_whole_seconds_of_a_scheduled_job(tmp_path: Path):
    found = problems(tmp_path, entry(extra='password = "pw"\npoll_interval = 0.5\n'))
    assert found == [
        "imap.mailboxes.0.poll_interval: Input should be a valid integer, got a number with a "
        "fractional part"
    ]


def test_a_mailbox_name_fits_its_job_id(tmp_path: Path):
    assert problems(tmp_path, entry("x" * 65)) == [
        "imap.mailboxes.0.name: String should have at most 64 characters"
    ]


def test_a_valid_entry_keeps_its_values(tmp_path: Path):
    path = tmp_path / "threadline.toml"
    path.write_text(entry(extra='oauth2_token_command = "helper --print"\nsecurity = "starttls"\n'))
    (mailbox,) = load_settings(path, {}).imap.mailboxes
    assert (mailbox.name, mailbox.security, mailbox.port) == ("support", "starttls", 993)
    assert mailbox.oauth2_token_command == "helper --print"
