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
@click.argument("what", metavar="PROPOSAL|ARTIFACT", type=click.Path(exists=True, path_type=Path))
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Channel directory; serve it as files or over HTTP(S).")
@click.option("--online-key", type=click.Path(path_type=Path), metavar="ONLINE.key",
              help="The online key that signs snapshot and timestamp (signed channels).")
@click.option("--signature", "signatures", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A member's signature file made on another machine (`release approve -o FILE`, or their "
                   "signatures/KEYID.json and KEYID.approval.json); repeatable. Each must verify against the staged "
                   "targets; it is then kept in PROPOSAL/signatures/.")
@json_option
@reporting("channel publish")
def publish(what: Path, channel_dir: Path, online_key: Path | None, signatures: tuple[Path, ...]) -> Result:
    """Publish an approved PROPOSAL (`release propose`) to a signed channel, or, on an unsigned legacy
    channel, copy ARTIFACT (and the manifest beside it) in and list it in index.json.

    A proposal is published only with K valid signatures of current SIG members (python-tuf's own check),
    staged on the channel's current targets version, for this channel: those in PROPOSAL/signatures/ and those
    of each --signature FILE members sent from their own machines. Target files, then N.targets.json, then the
    snapshot, then timestamp.json (last, atomically): a client never sees a half-published release.

    \b
    Exit codes: 0 published, 3 not a release artifact, stale proposal, another channel, not the online key,
    staged targets expired, 8 too few approvals, a bad signature (a --signature FILE over other bytes, for
    another proposal, of a non-member, or unreadable), an expired root, a checksum or manifest that does not
    verify, 13 the disk filled up (clients still see the previous version).
    """
    if what.is_dir():
        from mwrelease.cli.key import load_signer
        from mwrelease.errors import ConfigError
        from mwrelease.trust.publish import publish as signed_publish

        if online_key is None:
            raise ConfigError("Publishing a proposal needs the online key (--online-key ONLINE.key).",
                              hint="It signs the new snapshot and timestamp.")
        out = signed_publish(what, channel_dir, load_signer(online_key), signatures=list(signatures))
        rel = out["release"] or {}
        return Result(data=out, text=f"published {('MediaWiki ' + str(rel['version'])) if rel else 'a renewal'} as "
                                     f"targets version {out['targets_version']} (snapshot {out['snapshot_version']}, "
                                     f"timestamp {out['timestamp_version']}), approved by {', '.join(out['approved_by'])}"
                                     + (f" (signature files gathered: {', '.join(out['gathered'])})"
                                        if out["gathered"] else ""))
    from mwrelease.release.channel import publish as do_publish
    from mwrelease.trust.layout import Channel

    if Channel(channel_dir).exists():
        from mwrelease.errors import ConfigError

        raise ConfigError(f"{channel_dir} is a signed channel: an artifact goes in only through an approved proposal.",
                          hint=f"Run `mwrelease release propose {what.parent} --channel {channel_dir}`, gather the "
                               "members' approvals, then `mwrelease channel publish PROPOSAL`.")
    if signatures:
        raise click.UsageError("--signature goes with a PROPOSAL for a signed channel, not with an artifact.")
    entry = do_publish(what, channel_dir)
    return Result(data=entry, text=f"published {entry['artifact']['file']} as {entry['version']} on {entry['line']} "
                                   f"in {channel_dir / 'index.json'} (unsigned legacy channel)")


@channel.command("refresh")
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The signed channel directory.")
@click.option("--online-key", required=True, type=click.Path(path_type=Path), metavar="ONLINE.key",
              help="The online key (passphrase from $MWRELEASE_KEY_PASSPHRASE).")
@json_option
@reporting("channel refresh")
def refresh(channel_dir: Path, online_key: Path) -> Result:
    """Re-sign snapshot and timestamp so clients do not see a frozen channel (run it from cron, daily).

    \b
    Exit codes: 0 re-signed, 3 not the online key, 8 the root expired, 10 nothing published yet.
    """
    from mwrelease.cli.key import load_signer
    from mwrelease.trust.publish import refresh as do_refresh

    out = do_refresh(channel_dir, load_signer(online_key))
    return Result(data=out, warnings=list(out["warnings"]),
                  text=f"snapshot {out['snapshot_version']} and timestamp {out['timestamp_version']} signed "
                       f"(targets version {out['targets_version']})")


@channel.command("show")
@click.argument("location", required=False)
@click.option("--channel", metavar="URL|DIR",
              help="The channel (directory, file:// or http(s):// URL), as for upgrade; default: `channel` in "
                   "mwrelease.toml. LOCATION as an argument is the same.")
@click.option("--allow-unsigned", is_flag=True,
              help="List an unsigned (legacy) channel anyway, unverified. A trusted channel is always verified.")
@json_option
@reporting("channel show")
def show(location: str | None, channel: str | None, allow_unsigned: bool) -> Result:
    """List the releases of the channel (--channel, or LOCATION: a directory, file:// or http(s):// URL): each
    release's seal verdict and the SIG members who approved it, read through python-tuf's client and verified
    against the root this computer trusts (`mwrelease channel trust`, the same anchor as `upgrade`).

    \b
    Exit codes: 0 listed, 4 channel unreachable, 8 not trusted yet, unsigned, or the metadata does not verify.
    """
    from mwrelease.trust.client import TrustedChannel, open_channel

    from_config = click.get_current_context().get_parameter_source("channel") == click.core.ParameterSource.DEFAULT_MAP
    if location and channel and location != channel and not from_config:  # a config default yields to LOCATION
        raise click.UsageError(f"Two channels given: {location} and --channel {channel}; give one.")
    location = location or channel
    if not location:
        raise click.UsageError("Which channel? Give --channel URL|DIR (or set `channel` in mwrelease.toml).")
    warnings: list[str] = []
    reader = open_channel(location, allow_unsigned=allow_unsigned, warn=warnings.append)
    if isinstance(reader, TrustedChannel):
        from mwrelease.trust.show import render, verified_releases

        data = verified_releases(reader)
        return Result(data=data, text=lambda: render(data))
    idx = reader.index()
    lines = [f"{r.line:6} {r.version:10} php {r.php or '?':10} from {','.join(r.upgrades_from)}  "
             f"{', '.join(a.file for a in r.artifacts)}" for r in idx.releases]
    return Result(data={**idx.raw, "verified": False}, warnings=warnings, text="\n".join(lines) or "(no releases)")


def _attach_admin_commands() -> None:
    from mwrelease.cli.channel_trust import trust

    channel.add_command(trust)


_attach_admin_commands()
