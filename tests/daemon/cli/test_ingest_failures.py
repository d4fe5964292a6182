"""``threadline ingest`` words its failures as every command does, and still exits 75 so the
MTA keeps the mail: a database without the schema, and a configuration it cannot use."""

from __future__ import annotations

from tests.daemon.cli.test_ingest import pipe


def test_a_database_without_the_schema_exits_75_saying_to_upgrade_it(empty_db_url: str):
    refused = pipe(empty_db_url, "--channel", "email")

    assert refused.returncode == 75
    assert refused.stderr.startswith("Error: database has no threadline schema (")
    assert "inbound_items" in refused.stderr
    assert refused.stderr.endswith("): run `threadline db upgrade`\n")


def test_an_unusable_database_url_exits_75_with_the_configuration_s_own_words():
    refused = pipe("mysql://db/support", "--channel", "email")

    assert refused.returncode == 75
    assert refused.stderr == (
        "Error: invalid configuration (run `threadline check-config` for details): "
        "database.url (from THREADLINE_DATABASE__URL): unsupported database 'mysql'; "
        "use sqlite:///PATH or postgresql://USER@HOST/DB\n"
    )
