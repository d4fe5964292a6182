"""``threadline ingest``, which an MTA starts once per mail, loads neither SQLAlchemy nor
pydantic nor a mail parser to store a mail in SQLite: each would cost more than the rest."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("sqlalchemy", "pydantic", "email", "psycopg")
PROBE = """
import sys
from threadline.daemon.cli.main import cli
try:
    cli(["ingest", "--channel", "email"])
finally:
    loaded = {name.partition(".")[0] for name in sys.modules}
    print(",".join(sorted(loaded & set(sys.argv[1:]))), file=sys.stderr)
"""


def test_a_mail_piped_into_sqlite_loads_no_orm_settings_model_or_mail_parser(sqlite_db_url: str):
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = sqlite_db_url

    piped = subprocess.run(
        [sys.executable, "-c", PROBE, *HEAVY],
        input=b"Message-ID: <m1@example.com>\r\nFrom: ada@example.com\r\n\r\nHelp\r\n",
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == b"stdin: accepted as inbound item 1\n"
    assert piped.stderr == b"\n"
