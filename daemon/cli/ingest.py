"""``threadline ingest``: accept raw items from files or a pipe, as an MTA delivers to a command.

An MTA reads the exit status the ``sysexits.h`` way: 0 delivered, 75 (EX_TEMPFAIL) keep the mail
queued and try again later, anything else bounce it to the sender. None of our failures is the
sender's fault, so every failure here exits 75, even a mistyped option in the MTA's pipe line:
the mail waits in the MTA's queue until the operator fixes it, and nothing is lost. One
exception: a ``--channel`` that names no channel exits 2 and lists the channels, as every
command does for a usage error; it shows the first time the pipe line is tried, and no retry
could ever make such a channel exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from threadline.channels.descriptor import Channel
from threadline.core.db import session_factory
from threadline.core.intake import Intake, RawItem
from threadline.core.parsers import UnknownChannel
from threadline.daemon import channels
from threadline.daemon.cli.common import config_option, database, load
from threadline.daemon.cli.errors import explain

EX_TEMPFAIL = 75
EX_USAGE = 2
STDIN = "-"


class TemporaryFailure(click.ClickException):
    exit_code = EX_TEMPFAIL


class MailTransportCommand(click.Command):
    """Turns every failure, from parsing the arguments onwards, into exit status 75."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except UnknownChannelName:
            raise
        except click.ClickException as error:
            error.exit_code = EX_TEMPFAIL
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UnknownChannelName:
            raise
        except click.ClickException as error:
            error.exit_code = EX_TEMPFAIL
            raise
        except Exception as error:
            raise TemporaryFailure(explain(error)) from None


class UnknownChannelName(click.UsageError):
    """Not a temporary failure: no retry makes a channel exist, so the pipe line must change."""

    exit_code = EX_USAGE


def _channel(_ctx: click.Context, _param: click.Parameter, value: str) -> Channel:
    try:
        return channels.channel(value)
    except UnknownChannel as error:
        raise UnknownChannelName(str(error)) from None


@click.command("ingest", cls=MailTransportCommand)
@click.option(
    "--channel",
    required=True,
    callback=_channel,
    help="Channel whose parser reads the items: one of the channels threadline lists.",
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
@config_option
def ingest(channel: Channel, files: tuple[str, ...], config_path: Path | None) -> None:
    """Accept each FILE (or standard input, or -) as one raw item of CHANNEL, all in one commit.

    Exit status 0 once every item is stored (or was already: same channel, same bytes); 75 on any
    failure, so a delivering MTA keeps the mail queued and tries again. Processing happens later,
    in the daemon or in `threadline process`.
    """
    settings = load(config_path)
    sources = files or (STDIN,)
    items = [_read(channel, source) for source in sources]
    with database(settings) as engine:
        accepted = Intake(session_factory(engine)).accept_many(items)
    for source, answer in zip(sources, accepted, strict=True):
        name = "stdin" if source == STDIN else source
        if answer.duplicate:
            click.echo(f"{name}: duplicate of inbound item {answer.id}")
        else:
            click.echo(f"{name}: accepted as inbound item {answer.id}")


def _read(channel: Channel, source: str) -> RawItem:
    """Keyed as the channel keys what it is handed without an id, never by what comes beside
    the bytes: an MTA that retries after a lost answer redelivers the same bytes. Mail is keyed
    by its Message-ID, as the listener and the IMAP poller key it: one mail delivered for two of
    our addresses (each copy with its own Delivered-To) is stored once."""
    if source == STDIN:
        raw = click.get_binary_stream("stdin").read()
        meta = {"source": "ingest"}
    else:
        raw = Path(source).read_bytes()
        meta = {"source": "ingest", "file": source}
    return RawItem(channel.name, channel.dedup_key(raw), raw, meta)
