"""Loading settings: file, environment, secrets, and errors that name their TOML key."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from threadline.core.config_types import ListenAddress, process_count
from threadline.daemon.config import ConfigError, load_settings
from threadline.daemon.settings import default_settings, settings_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
THREADLINE = str(Path(sys.executable).with_name("threadline"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "threadline.toml"
    path.write_text(text)
    return path


def problems_of(path: Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    return caught.value.problems


def test_no_file_gives_the_embedded_defaults():
    settings = load_settings(None, {})
    assert settings.database.url == "sqlite:///var/threadline.db"
    assert settings.http.listen == ListenAddress("127.0.0.1", 8080)
    assert settings.smtp.listen == ListenAddress("127.0.0.1", 2525)


def test_example_file_documents_every_setting_with_its_default():
    def keys(model: type[BaseModel], prefix: str = "") -> set[str]:
        found = set()
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                found |= keys(field.annotation, f"{prefix}{name}.")
            else:
                found.add(prefix + name)
        return found

    def flatten(data: dict, prefix: str = "") -> set[str]:
        return {
            key
            for name, value in data.items()
            for key in (
                flatten(value, f"{prefix}{name}.")
                if isinstance(value, dict) and value
                else {prefix + name}
            )
        }

    documented = flatten(tomllib.loads(EXAMPLE.read_text()))
    assert documented == keys(settings_model())
    assert load_settings(EXAMPLE, {}) == default_settings()


def test_three_mistakes_are_all_reported_with_their_key_paths(tmp_path: Path):
    path = write(
        tmp_path,
        '[database]\nurl = "mysql://db/x"\n[http]\nlisten = "8080"\n[smtp]\nlisen = "x:25"\n',
    )
    result = subprocess.run(
        [THREADLINE, "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("database.url: unsupported database 'mysql'")
    assert lines[1].startswith("http.listen: expected HOST:PORT")
    assert lines[2] == "smtp.lisen: unknown setting"
    assert lines[3].endswith("3 problems")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        ("pigeon", "unknown channel 'pigeon'; the channels are email, slack, whatsapp, normalized"),
        (
            "normalized",
            "channel 'normalized' cannot carry agents' notifications; use one of email, slack",
        ),
    ],
)
def test_the_notification_channel_must_be_a_listed_channel_that_carries_them(
    tmp_path: Path, channel: str, problem: str
):
    path = write(tmp_path, f'[notifications]\nchannel = "{channel}"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    assert raised.value.problems == [f"notifications.channel: {problem}"]


def test_valid_file_passes_check_config(tmp_path: Path):
    path = write(tmp_path, '[http]\nlisten = "[::1]:8081"\n')
    result = subprocess.run(
        [THREADLINE, "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert load_settings(path, {}).http.listen == ListenAddress("::1", 8081)


def test_environment_wins_over_the_file(tmp_path: Path):
    path = write(tmp_path, '[http]\nlisten = "127.0.0.1:9000"\n[logging]\nlevel = "info"\n')
    settings = load_settings(
        path,
        {"THREADLINE_HTTP__LISTEN": "127.0.0.1:9100", "THREADLINE_LOGGING__LEVEL": "debug"},
    )
    assert settings.http.listen.port == 9100
    assert settings.logging.level == "debug"


def test_a_bad_environment_value_names_the_variable():
    problems = problems_of(None, {"THREADLINE_DAEMON__SHUTDOWN_TIMEOUT": "soon"})
    assert problems[0].startswith(
        "daemon.shutdown_timeout (from THREADLINE_DAEMON__SHUTDOWN_TIMEOUT): "
    )


def test_unrelated_threadline_variables_are_ignored():
    settings = load_settings(None, {"THREADLINE_CONFIG": "/x.toml", "THREADLINE_TEST_PG_URL": "x"})
    assert settings == default_settings()


def test_postgresql_urls_use_psycopg_3():
    settings = load_settings(None, {"THREADLINE_DATABASE__URL": "postgresql://u:p@db/support"})
    assert settings.database.url == "postgresql+psycopg://u:p@db/support"


def test_secret_read_from_a_file(tmp_path: Path):
    secret = tmp_path / "url"
    secret.write_text("postgresql://app:s3cret@db/support\n")
    path = write(tmp_path, f'[database]\nurl_file = "{secret}"\n')
    assert load_settings(path, {}).database.url == "postgresql+psycopg://app:s3cret@db/support"


def test_secret_file_given_by_environment(tmp_path: Path):
    secret = tmp_path / "url"
    secret.write_text("sqlite:///elsewhere.db")
    settings = load_settings(None, {"THREADLINE_DATABASE__URL_FILE": str(secret)})
    assert settings.database.url == "sqlite:///elsewhere.db"


def test_secret_from_a_systemd_credential(tmp_path: Path):
    (tmp_path / "database.url").write_text("postgresql://app:pw@db/support")
    settings = load_settings(None, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert settings.database.url == "postgresql+psycopg://app:pw@db/support"


def test_a_value_in_the_file_wins_over_a_credential(tmp_path: Path):
    (tmp_path / "database.url").write_text("postgresql://app:pw@db/support")
    path = write(tmp_path, '[database]\nurl = "sqlite:///here.db"\n')
    settings = load_settings(path, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert settings.database.url == "sqlite:///here.db"


def test_unreadable_secret_file_is_reported_with_its_key(tmp_path: Path):
    path = write(tmp_path, f'[database]\nurl_file = "{tmp_path / "missing"}"\n')
    assert problems_of(path)[0].startswith("database.url_file: cannot read ")


def test_a_secret_given_twice_is_refused(tmp_path: Path):
    secret = tmp_path / "url"
    secret.write_text("sqlite:///a.db")
    path = write(tmp_path, f'[database]\nurl = "sqlite:///b.db"\nurl_file = "{secret}"\n')
    assert problems_of(path) == [
        "database.url_file: set either database.url or database.url_file, not both"
    ]


def test_only_secrets_can_come_from_files(tmp_path: Path):
    path = write(tmp_path, '[http]\nlisten_file = "/etc/hostname"\n')
    assert problems_of(path) == ["http.listen_file: unknown setting"]


def test_secret_files_work_inside_lists_of_sections(tmp_path: Path):
    secret = tmp_path / "imap-password"
    secret.write_text("s3cret\n")
    entry = '[[imap.mailboxes]]\nname = "{}"\nhost = "imap.example.com"\nusername = "desk"\n'
    support = entry.format("support") + f'password_file = "{secret}"\n'
    sales = entry.format("sales") + f'password_file = "{tmp_path / "missing"}"\n'
    path = write(tmp_path, support + sales)
    assert problems_of(path)[0] == (
        f"imap.mailboxes.1.password_file: cannot read {tmp_path / 'missing'}: "
        "No such file or directory"
    )
    path.write_text(support)
    assert load_settings(path, {}).imap.mailboxes[0].password == "s3cret"


def test_invalid_toml_names_the_line(tmp_path: Path):
    path = write(tmp_path, "[http]\nlisten = \n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in problem


def test_missing_file_is_one_clear_problem(tmp_path: Path):
    (problem,) = problems_of(tmp_path / "nope.toml")
    assert problem == f"{tmp_path / 'nope.toml'}: cannot read: No such file or directory"


def test_email_domains_and_addresses_are_checked_naming_their_keys(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[email]\naddress = "Desk <support@@x>"\ndomains = ["not a domain"]\n'
        'addresses = ["nobody"]\n'
    )
    keys = [problem.split(":")[0] for problem in problems_of(path, {})]
    assert keys == ["email.address", "email.domains", "email.addresses"]


def test_the_desk_address_may_carry_a_display_name(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[email]\naddress = "Desk Support <support@desk.example>"\n')
    assert load_settings(path, {}).email.address == "Desk Support <support@desk.example>"


HELPER_PROCESSES = pytest.mark.parametrize(
    ("table", "key"), [("intake", "parse_workers"), ("smarthost", "compose_workers")]
)


@HELPER_PROCESSES
@pytest.mark.parametrize(("value", "count"), [('"auto"', None), ("0", 0), ("3", 3)])
def test_helper_processes_are_a_count_or_auto(
    tmp_path: Path, table: str, key: str, value: str, count: int | None
):
    path = write(tmp_path, f"[{table}]\n{key} = {value}\n")
    workers = process_count(getattr(getattr(load_settings(path, {}), table), key))
    if count is None:
        # One CPU stays the daemon's own: none on a single CPU, at most two.
        assert workers == min(len(os.sched_getaffinity(0)) - 1, 2)
    else:
        assert workers == count


@HELPER_PROCESSES
def test_helper_processes_may_come_from_the_environment(table: str, key: str):
    environ = {f"THREADLINE_{table.upper()}__{key.upper()}": "2"}
    assert getattr(getattr(load_settings(None, environ), table), key) == 2


@HELPER_PROCESSES
@pytest.mark.parametrize("value", ["-1", "65", '"many"', "true"])
def test_a_bad_helper_process_count_is_one_problem_naming_its_key(
    tmp_path: Path, table: str, key: str, value: str
):
    problems = problems_of(write(tmp_path, f"[{table}]\n{key} = {value}\n"))
    assert problems == [f'{table}.{key}: a number of processes from 0 to 64, or "auto"']


def test_a_scheduler_job_that_does_not_exist_is_a_problem_naming_the_jobs(tmp_path: Path):
    path = write(tmp_path, "[scheduler.jobs.intake_swep]\ninterval = 10\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, {})
    assert raised.value.problems == [
        "scheduler.jobs.intake_swep: no such job; the jobs are intake_sweep, outbox_sweep, "
        "lease_recovery, sla, auto_close, digests, stuck_items, retention"
    ]
