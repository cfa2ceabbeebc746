"""`mwrelease sig sign-root|publish-root`: a root change signed by each chair on their own machine.

Kept apart from cli/sig.py and attached to the `sig` group there. The change itself is staged with `--stage FILE`
on `sig members|chairs|rotate-online|renew`.
"""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import output_option
from mwrelease.output import Result


@click.command("sign-root")
@click.argument("staged", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path), metavar="CHAIR.key",
              help="Your private chair key (passphrase from $MWRELEASE_KEY_PASSPHRASE or a prompt).")
@output_option("The signature file (default STAGED-STEM.KEYID.sig.json beside STAGED).")
@json_option
@reporting("sig sign-root")
def sign_root(staged: Path, key_path: Path, output: Path | None) -> Result:
    """Sign a STAGED root version (from `sig ... --stage FILE`) with your chair key: writes one small signature
    file; send it back to whoever runs `sig publish-root`.

    \b
    Exit codes: 0 signed, 3 wrong passphrase or a public key given, 8 not a root metadata file.
    """
    from mwrelease.cli.key import load_signer
    from mwrelease.trust.root_stage import describe, load_staged, sign_staged

    signer = load_signer(key_path)
    out, warnings = sign_staged(staged, signer, output)
    what = describe(load_staged(staged))
    return Result(data={"signature": str(out), "keyid": signer.public_key.keyid, "signed": what}, warnings=warnings,
                  text="signed:\n  " + "\n  ".join(what) + f"\nwrote {out}")


@click.command("publish-root")
@click.argument("staged", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("signatures", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The channel directory.")
@json_option
@reporting("sig publish-root")
def publish_root(staged: Path, signatures: tuple[Path, ...], channel_dir: Path) -> Result:
    """Gather the chairs' SIGNATURES (default: STAGED-STEM.*.sig.json beside STAGED) and write the STAGED root as
    the channel's next root version, once the root threshold of the current root and of the new one signed it.

    \b
    Exit codes: 0 written, 3 stale staged root (the channel moved on), 8 too few valid chair signatures
    (nothing written).
    """
    from mwrelease.trust.root_stage import publish_staged

    md, warnings = publish_staged(staged, channel_dir, list(signatures))
    return Result(data={"root_version": md.signed.version, "warnings": warnings}, warnings=warnings,
                  text=f"root version {md.signed.version} written to {channel_dir}/metadata")
