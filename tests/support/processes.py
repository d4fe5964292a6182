"""Stopping the servers the suite starts (PostgreSQL, Dovecot)."""

from __future__ import annotations

import subprocess


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM for a clean shutdown; SIGKILL if it has not ended within ``timeout`` seconds,
    so a stuck server never holds the suite."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
