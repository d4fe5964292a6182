"""``[whatsapp]`` as an operator writes it: what is missing is named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.channels.descriptor import section
from threadline.channels.whatsapp.settings import WhatsAppSettings
from threadline.daemon.config import ConfigError, load_settings


def test_whatsapp_enabled_without_its_account_names_every_missing_key(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text('[whatsapp]\nenabled = true\npublic_url = "desk.example.com"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    problems = "\n".join(refused.value.problems)
    for key in ("account_sid", "auth_token", "from_number"):
        assert f"whatsapp.{key}" in problems
    assert "whatsapp.public_url" in problems
    assert "an http(s) URL" in problems


def test_the_auth_token_may_come_from_the_environment(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[whatsapp]\nenabled = true\naccount_sid = "AC1"\nfrom_number = "+14155238886"\n'
        'public_url = "https://desk.example.com/"\n'
    )
    settings = load_settings(path, {"THREADLINE_WHATSAPP__AUTH_TOKEN": "from-env"})
    whatsapp = section(settings, WhatsAppSettings)
    assert (whatsapp.auth_token, whatsapp.public_url) == ("from-env", "https://desk.example.com")


def test_an_api_key_goes_with_its_secret_and_then_authenticates_our_calls(tmp_path: Path):
    path = tmp_path / "config.toml"
    account = (
        '[whatsapp]\nenabled = true\naccount_sid = "AC1"\nauth_token = "t"\n'
        'from_number = "+14155238886"\npublic_url = "https://desk.example.com"\n'
    )
    path.write_text(account + 'api_key = "SK1"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    assert "whatsapp.api_key and whatsapp.api_secret go together" in "\n".join(
        refused.value.problems
    )

    settings = load_settings(path, {"THREADLINE_WHATSAPP__API_SECRET": "s"})
    assert section(settings, WhatsAppSettings).credentials() == ("SK1", "s")
