"""``[slack]`` as an operator writes it: mistakes are named by their key, secrets come from
files or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.channels.descriptor import section
from threadline.channels.slack.settings import SlackSettings
from threadline.daemon.config import ConfigError, load_settings


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> SlackSettings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return section(load_settings(path, environ or {}), SlackSettings)


def test_slack_enabled_without_its_secrets_names_both_keys(tmp_path: Path):
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, "[slack]\nenabled = true\n")
    problems = "\n".join(refused.value.problems)
    assert "slack.signing_secret" in problems
    assert "slack.bot_token" in problems


def test_a_channel_named_rather_than_given_by_id_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, '[slack]\nsupport_channels = ["#support"]\nagents_channel = "agents"\n')
    problems = refused.value.problems
    assert any(p.startswith("slack.support_channels") for p in problems)
    assert any(p.startswith("slack.agents_channel") for p in problems)


def test_secrets_come_from_a_file_or_the_environment(tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("xoxb-from-file\n")
    slack = load(
        tmp_path,
        f'[slack]\nenabled = true\nbot_token_file = "{token}"\n',
        {"THREADLINE_SLACK__SIGNING_SECRET": "from-env"},
    )
    assert (slack.bot_token, slack.signing_secret) == ("xoxb-from-file", "from-env")
    assert slack.api_base_url == "https://slack.com/api/"
