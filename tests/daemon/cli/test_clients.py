"""``threadline clients add|list|link`` on each database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemon.cli.conftest import Threadline, columns


def test_a_client_added_with_ids_is_listed_with_them_normalized(threadline: Threadline):
    added = threadline(
        "clients",
        "add",
        "Ada Lovelace",
        "-e",
        "email",
        " Ada@Bücher.example",
        "-e",
        "slack",
        "t1:u2",
    )
    assert added.exit_code == 0, added.output
    assert added.output == (
        "added client 1: Ada Lovelace (email:ada@xn--bcher-kva.example, slack:T1:U2)\n"
    )
    threadline("clients", "add", "Bob")

    listed = threadline("clients", "list")

    table = columns(listed.output)
    assert table[0] == ["ID", "NAME", "EXTERNAL IDS", "CREATED"]
    assert table[1][:3] == ["1", "Ada Lovelace", "email:ada@xn--bcher-kva.example, slack:T1:U2"]
    assert table[2][:3] == ["2", "Bob", "-"]


def test_clients_list_as_json_gives_each_external_id_as_type_and_value(threadline: Threadline):
    threadline("clients", "add", "Ada", "--external-id", "phone", "+44 20 7946 0958")

    listed = threadline("clients", "list", "--format", "json")

    (client,) = json.loads(listed.output)
    assert list(client) == ["id", "name", "external_ids", "created_at"]
    assert client["external_ids"] == [{"type": "phone", "value": "+442079460958"}]


def test_linking_normalizes_the_id_and_reports_what_was_stored(threadline: Threadline):
    threadline("clients", "add", "Ada")

    linked = threadline("clients", "link", "1", "whatsapp", "whatsapp:+44 20 7946 0958")

    assert linked.exit_code == 0
    assert linked.output == "linked whatsapp:+442079460958 to client 1\n"


def test_linking_an_email_owned_by_another_client_names_that_client(threadline: Threadline):
    threadline("clients", "add", "Ada Lovelace", "-e", "email", "ada@example.com")
    threadline("clients", "add", "Bob")

    refused = threadline("clients", "link", "2", "email", "ADA@example.com")

    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: email:ada@example.com already belongs to client 1 (Ada Lovelace)\n"
    )


def test_linking_an_id_the_client_already_has_is_refused(threadline: Threadline):
    threadline("clients", "add", "Ada", "-e", "slack", "T1:U2")

    refused = threadline("clients", "link", "1", "slack", "t1:u2")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: slack:T1:U2 is already linked to client 1 (Ada)\n"


def test_linking_to_an_unknown_client_is_one_error_line(threadline: Threadline):
    refused = threadline("clients", "link", "7", "email", "ada@example.com")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: no client with id 7\n"


def test_an_invalid_external_id_is_refused_with_what_is_expected(threadline: Threadline):
    refused = threadline("clients", "add", "Ada", "-e", "phone", "020 7946 0958")

    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1
    assert "identity.default_region" in refused.stderr
    assert threadline("clients", "list", "--format", "json").output.strip() == "[]"


def test_an_unsupported_external_id_type_is_a_usage_error_listing_the_supported_ones(
    threadline: Threadline,
):
    refused = threadline("clients", "link", "1", "fax", "+14155552671")

    assert refused.exit_code == 2
    assert "'email', 'phone', 'whatsapp', 'slack'" in refused.stderr


def test_the_default_region_from_the_environment_reads_national_numbers(threadline: Threadline):
    threadline("clients", "add", "Ada")

    linked = threadline(
        "clients", "link", "1", "phone", "020 7946 0958", THREADLINE_IDENTITY__DEFAULT_REGION="GB"
    )

    assert linked.output == "linked phone:+442079460958 to client 1\n"


def test_the_config_file_given_with_config_is_used(threadline: Threadline, tmp_path: Path):
    config = tmp_path / "threadline.toml"
    config.write_text('[identity]\ndefault_region = "US"\n')
    threadline("clients", "add", "Ada")

    linked = threadline("clients", "link", "1", "phone", "(415) 555-2671", "--config", str(config))

    assert linked.exit_code == 0, linked.output
    assert linked.output == "linked phone:+14155552671 to client 1\n"
