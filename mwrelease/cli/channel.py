"""`mwrelease channel publish|show`: a release channel's index."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result


@click.group("channel")
def channel() -> None:
    """Publish release artifacts to a channel directory, or show a channel's releases."""


@channel.command("publish")
@click.argument("artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Channel directory (index.json + artifacts); serve it as files or over HTTPS.")
@json_option
@reporting("channel publish")
def publish(artifact: Path, channel_dir: Path) -> Result:
    """Copy ARTIFACT (and the manifest beside it) into the channel and list it in index.json.

    \b
    Exit codes: 0 published, 3 not a release artifact, 8 checksum or manifest does not verify.
    """
    from mwrelease.release.channel import publish as do_publish

    entry = do_publish(artifact, channel_dir)
    return Result(data=entry, text=f"published {entry['artifact']['file']} as {entry['version']} on {entry['line']} "
                                   f"in {channel_dir / 'index.json'}")


@channel.command("show")
@click.argument("location")
@json_option
@reporting("channel show")
def show(location: str) -> Result:
    """List the releases of the channel at LOCATION (directory, file:// or https:// URL)."""
    from mwrelease.release.channel import ChannelClient

    idx = ChannelClient(location).index()
    lines = [f"{r.line:6} {r.version:10} php {r.php or '?':10} from {','.join(r.upgrades_from)}  "
             f"{', '.join(a.file for a in r.artifacts)}" for r in idx.releases]
    return Result(data=idx.raw, text="\n".join(lines) or "(no releases)")


def _attach_admin_commands() -> None:
    from mwrelease.cli.channel_trust import trust

    channel.add_command(trust)


_attach_admin_commands()
