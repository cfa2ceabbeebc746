"""`mwrelease channel trust`: record the trust anchor of a signed channel (the admin side of issue 9).

Kept apart from cli/channel.py (the SIG's publishing commands) and attached to the `channel` group there.
"""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result


@click.command("trust")
@click.argument("location")
@click.option("--root", "root_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A root metadata file (e.g. 1.root.json) the SIG gave you out of band.")
@click.option("--root-sha256", metavar="HEX",
              help="The sha256 of the channel's metadata/1.root.json, as the SIG announced it; the file is "
                   "downloaded from the channel and must have this digest.")
@json_option
@reporting("channel trust")
def trust(location: str, root_file: Path | None, root_sha256: str | None) -> Result:
    """Trust the signed channel at LOCATION (directory, file:// or http(s):// URL) from now on.

    mwrelease never trusts a channel on first use: give the channel's root metadata (--root FILE) or its
    digest (--root-sha256 HEX) from the SIG's announcement. The channel is verified right away (root chain,
    timestamp, snapshot, the SIG members' approvals); the anchor is kept per user in
    $XDG_DATA_HOME/mwrelease/trust/ (or $MWRELEASE_TRUST_DIR). Trusting a mirror of a known channel adds the
    location and keeps what was verified before.

    \b
    Exit codes: 0 trusted; 4 channel unreachable; 8 the root or the channel does not verify (nothing stored).
    """
    from mwrelease.trust.client import trust_channel

    d = trust_channel(location, root_file=root_file, root_sha256=root_sha256)
    text = (f"trusted channel {location} (id {d['channel_id'][:16]}…, anchor in {d['store']})\n"
            f"  root v{d['root_version']}: {d['root_threshold']} of {', '.join(d['root_keys'])}\n"
            f"  SIG members: {', '.join(d['members'])}; {d['approval_threshold']} approvals per release\n"
            f"  newest release list: targets v{d['targets_version']}, approved by {', '.join(d['approved_by'])}\n"
            f"  timestamp expires {d['expires']['timestamp']}, root expires {d['expires']['root']}")
    return Result(data=d, text=text)
