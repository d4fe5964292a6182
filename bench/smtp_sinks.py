"""The SMTP servers ``bench/dispatch.py`` sends to, each in a process of its own, accepting every
mail and counting them, so that a mail sent twice would show:

- ``aiosmtpd``: the Python server the test suite uses. On a small machine it competes with the
  daemon for the processors: about 0.6 ms of CPU a mail, against the daemon's own 0.8–0.9.
- ``smtp-sink``: Postfix's server for this very purpose, in C, at a small fraction of that, as a
  real smarthost on a machine of its own costs the daemon's machine nothing.
  ``bench/get-smtp-sink`` unpacks it from Debian's postfix package into ``var/postfix``; the
  package itself would install and start a mail server.

    .venv/bin/python -m bench.smtp_sinks PORT   # the aiosmtpd sink, as bench/dispatch.py runs it
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

KINDS = ("aiosmtpd", "smtp-sink")
ROOT = Path(__file__).resolve().parent.parent
SMTP_SINK_ROOTS = (ROOT / "var" / "postfix" / "root", Path("/"))
"""Where smtp-sink is looked for: unpacked by bench/get-smtp-sink, or Postfix installed."""
START_TIMEOUT_S = 10


class Counting:
    """The aiosmtpd sink's handler: accepts every mail and counts it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 2.0.0 accepted"


def serve(port: int) -> None:
    """The aiosmtpd sink: serves until SIGTERM, then prints how many mails it accepted."""
    handler = Counting()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="sink"), "127.0.0.1", port)
    )
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()
    print(handler.count, flush=True)


class SinkProcess:
    """A sink of ``kind`` on ``port``, accepting once the constructor returns."""

    def __init__(self, kind: str, port: int, directory: Path) -> None:
        self._kind = kind
        self._counts = directory / f"sink-{port}.out"
        if kind == "aiosmtpd":
            command, env = [sys.executable, "-m", "bench.smtp_sinks", str(port)], None
        else:
            command, env = _smtp_sink(port)
        with self._counts.open("w") as counts:
            self._process = subprocess.Popen(command, stdout=counts, env=env, cwd=ROOT)
        _wait_until_accepting(port, self._process)

    def stop(self) -> int:
        """Stops it; how many mails it accepted."""
        self._process.send_signal(signal.SIGTERM)
        self._process.wait(timeout=30)
        output = self._counts.read_text()
        if self._kind == "aiosmtpd":
            return int(output.split()[-1])
        # smtp-sink -c: counters rewritten after every mail, "... mesg=N".
        counted = re.findall(r"mesg=(\d+)", output)
        return int(counted[-1]) if counted else 0


def _smtp_sink(port: int) -> tuple[list[str], dict[str, str]]:
    for root in SMTP_SINK_ROOTS:
        binary = root / "usr" / "sbin" / "smtp-sink"
        if binary.exists():
            # It refuses to run as root unless told whose privileges to take.
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            env = {"LD_LIBRARY_PATH": str(root / "usr" / "lib" / "postfix")}
            return [str(binary), "-c", *user, f"127.0.0.1:{port}", "256"], env
    raise SystemExit("Postfix's smtp-sink is not installed: run bench/get-smtp-sink first")


def _wait_until_accepting(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the SMTP sink exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the SMTP sink did not accept on {port} within {START_TIMEOUT_S} s")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
