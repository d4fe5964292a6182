"""Benchmark of the email channel end to end: generated mail through the real CLI and through
the IMAP poller. Prints mails/s and peak RSS per run, and the median of the runs.

    .venv/bin/python -m bench.email --mails 20000 --runs 3              # every mode, both databases
    .venv/bin/python -m bench.email --mode cli --backend sqlite --mails 20000 --runs 3
    .venv/bin/python -m bench.email --mode imap --imap-mails 10000
    .venv/bin/python -m bench.email --mode attachment --attachment-mb 25 --backend sqlite

(Run it with ``-m``: as ``python bench/email.py`` this file would hide the stdlib's ``email``.)

``cli``: the corpus (``bench/mail_generator.py``) is written as one file per mail, then
``threadline ingest --channel email FILE...`` (``--chunk`` files per call) and ``threadline
process --until-idle`` run as subprocesses against a fresh database made with ``threadline db
upgrade`` and three agents added with ``threadline users add``, so every client message is
notified. mails/s is the count over the wall time of ingest + process, start-up included; peak
RSS is each subprocess's own (GNU time). Afterwards every item must be ``done`` with one message
each (and on SQLite the corpus's number of tickets), or the run fails.

``imap``: a throwaway Dovecot (``tests/support/dovecot.py``) gets the mails by MULTIAPPEND
(untimed); a fresh process then runs the daemon's ``ImapRunner`` against a fresh SQLite database
until every mail is in the intake queue. ``attachment``: one mail with a large file through
``ingest`` and ``process --until-idle``, for the peak RSS of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.core import fresh_url
from bench.mail_generator import Corpus, big_mail, corpus
from tests.support.postgres import PostgresServer, external_postgres, start_postgres
from threadline.channels.email.imap_runner import imap_runner
from threadline.channels.email.settings import MailboxSettings
from threadline.core.db import make_engine, session_factory
from threadline.core.migrate import upgrade
from threadline.core.models import (
    Attachment,
    InboundItem,
    Message,
    Notification,
    OutboxItem,
    Ticket,
)

TIMEOUT_S = 1800
AGENTS = 3
MEBIBYTE = 1024 * 1024
TIME = "/usr/bin/time"
"""GNU time (Debian package ``time``), for each subprocess's own peak RSS."""
RSS_SAMPLE_S = 0.25
"""How often a command's process tree is measured (a scan of /proc costs a few milliseconds,
taken from the two cores the benchmark measures): a peak shorter than this can be missed in
the sum, never in the single-process figure."""
DRAIN_POLL_S = 0.05
"""How often the drain counts the queue: 50 ms on a drain of many seconds."""
IMAP_USER = "bench"


@dataclass(frozen=True)
class Finished:
    seconds: float
    peak_rss_mb: float
    """The largest single process's peak (GNU time): the command, or one of its workers."""
    peak_tree_mb: float
    """The peak of the RSS summed over the command and its worker processes, sampled."""
    stdout: str


def threadline(
    url: str, *args: str, cwd: Path | None = None, profile: Path | None = None
) -> Finished:
    """The console script in a subprocess, configured by the environment alone (any
    THREADLINE_* of the caller's is dropped, so a developer's own settings cannot leak in)."""
    command = [str(Path(sys.executable).parent / "threadline"), *args]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = url
    return measured(command, env, cwd)


def measured(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Finished:
    """Run ``command``; its wall time, its own peak RSS, which GNU time reports, and the peak
    of its process tree's. Not ``wait4`` or ``getrusage`` in the child: subprocess starts
    children with vfork, and Linux carries the parent's peak into the child's at exec, so this
    process's corpus would show up in every figure. GNU time's figure is the largest single
    process of the tree, not their sum: the sum (``process`` has parse workers) is sampled."""
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as temporary:
        files = Path(temporary)
        with (files / "out").open("wb") as out, (files / "err").open("wb") as err:
            started = time.perf_counter()
            running = subprocess.Popen(
                [TIME, "-f", "%M", "-o", str(files / "peak"), *command],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=err,
            )
            peak_tree_kb = 0
            while True:
                try:
                    # Returns as soon as the command ends, so the sampling adds no wall time.
                    running.wait(RSS_SAMPLE_S)
                    break
                except subprocess.TimeoutExpired:
                    peak_tree_kb = max(peak_tree_kb, descendants_rss_kb(running.pid))
                if time.perf_counter() - started > TIMEOUT_S:
                    running.kill()
                    raise SystemExit(f"`{' '.join(command[:4])} ...` ran over {TIMEOUT_S} s")
            elapsed = time.perf_counter() - started
        if running.returncode != 0:
            tail = (files / "err").read_text(errors="replace")[-2000:]
            raise SystemExit(f"`{' '.join(command[:4])} ...` exited {running.returncode}:\n{tail}")
        peak_kb = int((files / "peak").read_text().split()[-1])
        return Finished(
            elapsed, peak_kb / 1024, max(peak_kb, peak_tree_kb) / 1024, (files / "out").read_text()
        )


def descendants_rss_kb(root: int) -> int:
    """VmRSS summed over ``root``'s descendants (``root`` is GNU time), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: the fields follow its end.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    total = 0
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root:
            total += _vm_rss_kb(pid)
    return total


def _vm_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def prepare(url: str) -> None:
    """A fresh database as an operator makes one; the agents get every client message's
    notification, so fan-out does its full work."""
    threadline(url, "db", "upgrade")
    for n in range(AGENTS):
        threadline(url, "users", "add", f"Agent {n}", f"agent{n}@desk.example")


def write_corpus(made: Corpus, directory: Path) -> list[str]:
    """File names relative to ``directory``, so 20,000 of them fit an argument list."""
    names = []
    for number, mail in enumerate(made.mails):
        name = f"{number:06d}.eml"
        (directory / name).write_bytes(mail)
        names.append(name)
    return names


def cli_run(
    url: str,
    directory: Path,
    names: list[str],
    chunk: int,
    profile: Path | None = None,
    processes: int = 1,
) -> dict[str, float]:
    """One run: ingest in chunks (``threadline ingest`` reads every file it is given into one
    commit, so a chunk bounds its memory), then ``process --until-idle``, in ``processes``
    instances at once (PostgreSQL), timed until the last has ended."""
    prepare(url)
    ingested = [
        threadline(
            url, "ingest", "--channel", "email", *names[start : start + chunk], cwd=directory
        )
        for start in range(0, len(names), chunk)
    ]
    with ThreadPoolExecutor(processes) as running:
        started = time.perf_counter()
        instances = list(
            running.map(
                lambda _: threadline(url, "process", "--until-idle", profile=profile),
                range(processes),
            )
        )
        seconds = time.perf_counter() - started
    processed = replace(
        max(instances, key=lambda run: run.peak_tree_mb),
        seconds=seconds,
        peak_tree_mb=sum(run.peak_tree_mb for run in instances),
    )
    ingest_s = sum(run.seconds for run in ingested)
    return {
        "mails_per_s": len(names) / (ingest_s + processed.seconds),
        "ingest_per_s": len(names) / ingest_s,
        "process_per_s": len(names) / processed.seconds,
        "ingest_rss_mb": max(run.peak_rss_mb for run in ingested),
        "process_rss_mb": processed.peak_rss_mb,
        "process_tree_mb": processed.peak_tree_mb,
    }


def counts(url: str) -> dict[str, int]:
    """What the run left in the database, read after the subprocesses are gone."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = {
                f"items_{status}": number
                for status, number in connection.execute(
                    select(InboundItem.status, func.count()).group_by(InboundItem.status)
                )
            }
            for name, model in (
                ("tickets", Ticket),
                ("messages", Message),
                ("notifications", Notification),
                ("outbox", OutboxItem),
                ("attachments", Attachment),
            ):
                found[name] = connection.scalar(select(func.count()).select_from(model)) or 0
            found["largest_attachment"] = connection.scalar(select(func.max(Attachment.size))) or 0
    finally:
        engine.dispose()
    return found


def verify(url: str, mails: int, tickets: int | None) -> dict[str, int]:
    """A benchmark that loses or misthreads mail must not print a figure: every item ``done``,
    one message each, and as many tickets as the corpus has conversations. ``tickets`` None:
    not counted, for several processes at once, which number tickets in another order than the
    corpus's ``[#N]`` replies assume (each process takes its ids in blocks)."""
    found = counts(url)
    expected = {"items_done": mails, "messages": mails}
    if tickets is not None:
        expected["tickets"] = tickets
    wrong = {k: found.get(k, 0) for k, v in expected.items() if found.get(k, 0) != v}
    others = {k: v for k, v in found.items() if k.startswith("items_") and k != "items_done"}
    if wrong or others:
        raise SystemExit(f"expected {expected}, found {found}")
    return found


def cli_mode(args: argparse.Namespace, backends: list[str], server: PostgresServer | None) -> None:
    made = corpus(args.mails)
    mean_kb = sum(map(len, made.mails)) / len(made.mails) / 1024
    print(
        f"corpus: {args.mails} mails, mean {mean_kb:.1f} KB, {made.conversations} "
        f"conversations from {made.senders} senders",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as temporary:
        directory = Path(temporary)
        (directory / "mail").mkdir()
        names = write_corpus(made, directory / "mail")
        for backend in backends:
            results = []
            for run in range(args.runs):
                url = fresh_url(backend, directory, server, run)
                result = cli_run(
                    url, directory / "mail", names, args.chunk, processes=args.processes
                )
                one = made.conversations if args.processes == 1 else None
                found = verify(url, len(names), one)
                results.append(result)
                print(
                    f"{backend} run {run + 1}: {result['mails_per_s']:.0f} mails/s "
                    f"(ingest {result['ingest_per_s']:.0f}/s, process "
                    f"{result['process_per_s']:.0f}/s), peak RSS ingest "
                    f"{result['ingest_rss_mb']:.0f} MB, process {result['process_rss_mb']:.0f} MB "
                    f"({result['process_tree_mb']:.0f} MB with its parse workers); "
                    f"{found['tickets']} tickets ({made.conversations} conversations), "
                    f"{found['notifications']} notifications",
                    flush=True,
                )
            median = statistics.median(r["mails_per_s"] for r in results)
            peak = max(max(r["ingest_rss_mb"], r["process_tree_mb"]) for r in results)
            print(
                f"{backend}: median {median:.0f} mails/s over {args.runs} runs of {args.mails}, "
                f"peak RSS {peak:.0f} MB",
                flush=True,
            )
        if args.profile is not None:
            # A run of its own: cProfile about doubles the time, so it is no figure.
            url = fresh_url(backends[0], directory, server, args.runs)
            cli_run(url, directory / "mail", names, args.chunk, args.profile)
            verify(url, len(names), made.conversations)
            print(f"profile of `process --until-idle` on {backends[0]}: {args.profile}")


def attachment_mode(
    args: argparse.Namespace, backends: list[str], server: PostgresServer | None
) -> None:
    mail = big_mail(args.attachment_mb * MEBIBYTE)
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as temporary:
        directory = Path(temporary)
        (directory / "big.eml").write_bytes(mail)
        del mail
        for backend in backends:
            url = fresh_url(backend, directory, server, run=99)
            prepare(url)
            ingested = threadline(url, "ingest", "--channel", "email", "big.eml", cwd=directory)
            processed = threadline(url, "process", "--until-idle")
            found = verify(url, 1, 1)
            print(
                f"{backend}: {args.attachment_mb} MB attachment "
                f"({found['largest_attachment'] / MEBIBYTE:.1f} MB stored): peak RSS ingest "
                f"{ingested.peak_rss_mb:.0f} MB ({ingested.seconds:.1f} s), process "
                f"{processed.peak_rss_mb:.0f} MB ({processed.peak_tree_mb:.0f} MB with its parse "
                f"workers; {processed.seconds:.1f} s)",
                flush=True,
            )


def imap_mode(args: argparse.Namespace) -> None:
    from tests.support.dovecot import start_dovecot

    made = corpus(args.imap_mails)
    dovecot = start_dovecot()
    try:
        started = time.perf_counter()
        dovecot.account(IMAP_USER).append(*made.mails)
        print(
            f"appended {len(made.mails)} mails in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        del made
        with tempfile.TemporaryDirectory(prefix="threadline-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'imap.db'}"
            command = [sys.executable, "-m", "bench.email", "--one-imap", url]
            command += ["--port", str(dovecot.port), "--imap-mails", str(args.imap_mails)]
            finished = measured(command, dict(os.environ))
        result = json.loads(finished.stdout.splitlines()[-1])
        print(
            f"imap: drained {args.imap_mails} mails at {result['mails_per_s']:.0f} mails/s "
            f"({result['seconds']:.1f} s), peak RSS {finished.peak_rss_mb:.0f} MB",
            flush=True,
        )
    finally:
        dovecot.stop()


async def drain(url: str, port: int, count: int) -> dict[str, float]:
    """The daemon's runner for one mailbox, as ``threadline run`` builds it (default batch size,
    ``after = "flag"``), until ``count`` mails are in the intake queue; in a process of its own
    (``--one-imap``), so the peak RSS is the poller's."""
    from prometheus_client import CollectorRegistry

    from tests.support.dovecot import HOST, PASSWORD
    from threadline.daemon.metrics import DaemonMetrics
    from threadline.daemon.settings import default_settings
    from threadline.daemon.wake_hub import WakeHub
    from threadline.daemon.wiring import channel_context

    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    mailbox = MailboxSettings(
        name="bench",
        host=HOST,
        port=port,
        security="none",
        username=IMAP_USER,
        password=PASSWORD,
    )
    metrics = DaemonMetrics(CollectorRegistry())
    context = channel_context(default_settings(), engine, WakeHub(), metrics)
    runner = imap_runner(mailbox, context)
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        while (queued := await asyncio.to_thread(_queued, sessions)) < count:
            if task.done() or time.perf_counter() - started > TIMEOUT_S:
                raise SystemExit(f"{queued} of {count} mails queued; {runner.last_error}")
            await asyncio.sleep(DRAIN_POLL_S)
        elapsed = time.perf_counter() - started
    finally:
        runner.stop()
        await task
        engine.dispose()
    if queued != count:
        raise SystemExit(f"{queued} mails queued, {count} appended")
    return {"seconds": elapsed, "mails_per_s": count / elapsed}


def _queued(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InboundItem)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["cli", "imap", "attachment", "all"], default="all")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=5000, help="files per `threadline ingest`")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="`threadline process` instances draining the queue at once (PostgreSQL)",
    )
    parser.add_argument("--imap-mails", type=int, default=10_000)
    parser.add_argument("--attachment-mb", type=int, default=25)
    parser.add_argument(
        "--profile", type=Path, help="cProfile `process --until-idle` in an extra run, to FILE"
    )
    parser.add_argument("--one-imap", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_imap:
        print(json.dumps(asyncio.run(drain(args.one_imap, args.port, args.imap_mails))))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    server = None
    if "postgresql" in backends and args.mode in ("cli", "attachment", "all"):
        url = os.environ.get("THREADLINE_TEST_PG_URL")
        server = external_postgres(url) if url else start_postgres()
    try:
        if args.mode in ("cli", "all"):
            cli_mode(args, backends, server)
        if args.mode in ("imap", "all"):
            imap_mode(args)
        if args.mode in ("attachment", "all"):
            attachment_mode(args, backends, server)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
