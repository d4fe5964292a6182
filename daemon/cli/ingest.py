"""``threadline ingest``: accept raw items from files or a pipe, as an MTA delivers to a command.

An MTA reads the exit status the ``sysexits.h`` way: 0 delivered, 75 (EX_TEMPFAIL) keep the mail
queued and try again later, anything else bounce it to the sender. None of our failures is the
sender's fault, so every failure here exits 75, even a mistyped option in the MTA's pipe line:
the mail waits in the MTA's queue until the operator fixes it, and nothing is lost. One
exception: a ``--channel`` that names no channel exits 2 and lists the channels, as every
command does for a usage error; it shows the first time the pipe line is tried, and no retry
could ever make such a channel exist.

As it runs once per mail, the command loads neither SQLAlchemy nor pydantic nor a mail parser:
``database.url`` is read alone (``daemon/config_sources.py``), the channel's key comes from
``daemon/channel_keys.py``, and the items go in through the database driver
(``core/driver_intake.py``). The full settings and the channels' descriptors are loaded only to
word a problem with either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from threadline.core.driver_intake import accept_many
from threadline.core.raw_items import RawItem
from threadline.daemon.channel_keys import ChannelKey, channel_key
from threadline.daemon.cli.common import config_option, load
from threadline.daemon.cli.errors import explain
from threadline.daemon.config_sources import database_url

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


def _channel(_ctx: click.Context, _param: click.Parameter, value: str) -> ChannelKey:
    return channel_key(value) or _described(value)


def _described(name: str) -> ChannelKey:
    """A channel ``channel_keys`` does not list: one added to the list of channels at run time,
    or none, which the list of channels words."""
    from threadline.core.parsers import UnknownChannel
    from threadline.daemon import channels

    try:
        return ChannelKey(name, channels.channel(name).dedup_key)
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
def ingest(channel: ChannelKey, files: tuple[str, ...], config_path: Path | None) -> None:
    """Accept each FILE (or standard input, or -) as one raw item of CHANNEL, all in one commit.

    Exit status 0 once every item is stored (or was already: same channel, same bytes); 75 on any
    failure, so a delivering MTA keeps the mail queued and tries again. Processing happens later,
    in the daemon or in `threadline process`.
    """
    url = database_url(config_path) or load(config_path).database.url
    sources = files or (STDIN,)
    items = [_read(channel, source) for source in sources]
    accepted = accept_many(url, items)
    for source, answer in zip(sources, accepted, strict=True):
        name = "stdin" if source == STDIN else source
        if answer.duplicate:
            click.echo(f"{name}: duplicate of inbound item {answer.id}")
        else:
            click.echo(f"{name}: accepted as inbound item {answer.id}")


def _read(channel: ChannelKey, source: str) -> RawItem:
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
    return RawItem(channel.channel, channel.dedup_key(raw), raw, meta)
