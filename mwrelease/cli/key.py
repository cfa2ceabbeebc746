"""`mwrelease key generate|show`: the SIG's ed25519 keys (securesystemslib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import legacy_output_option, pick_out_dir
from mwrelease.output import Result


def _prompt(text: str) -> str:
    value: str = click.prompt(text, hide_input=True, err=True)
    return value


def load_signer(path: Path) -> Any:
    """A signer for a NAME.key file; the passphrase from $MWRELEASE_KEY_PASSPHRASE or a prompt."""
    from mwrelease.trust.keys import load_signer as load

    return load(path, prompt=_prompt)


def load_publics(paths: tuple[Path, ...] | list[Path]) -> list[Any]:
    from mwrelease.trust.keys import load_public

    return [load_public(p) for p in paths]


@click.group("key")
def key() -> None:
    """Generate and show SIG keys (ed25519; the private key encrypted with a passphrase)."""


@key.command("generate")
@click.argument("name")
# Not OutDir: a folder inside a channel is refused before anything is created.
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for NAME.key (private, 0600) and NAME.pub (public, with its keyid); required.")
@legacy_output_option()
@json_option
@reporting("key generate")
def generate(name: str, out_dir: Path | None, legacy_out_dir: Path | None) -> Result:
    """Generate an ed25519 key pair NAME.key / NAME.pub.

    The passphrase comes from $MWRELEASE_KEY_PASSPHRASE or is asked for twice. A private key is never
    written into a channel directory.

    \b
    Exit codes: 0 written, 3 bad name, empty passphrase, existing file or a channel directory.
    """
    from mwrelease.trust.keys import generate_key, passphrase_for, refuse_inside_channel, show

    out_dir = pick_out_dir(out_dir, legacy_out_dir, required=True)
    assert out_dir is not None
    refuse_inside_channel(out_dir)
    passphrase = passphrase_for(f"the new key {name}", _prompt, confirm=True)
    private, public = generate_key(name, out_dir, passphrase)
    info = show(public)
    return Result(data={"private": str(private), "public": str(public), "keyid": info.keyid, "name": name},
                  text=f"{name}: keyid {info.keyid}\n  private {private} (encrypted, mode 0600: keep it offline)\n"
                       f"  public  {public} (give this one to the SIG chairs)")


@key.command("show")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@reporting("key show")
def show_cmd(file: Path) -> Result:
    """Show a key file's name, keyid and type (NAME.pub, or NAME.key with NAME.pub beside it).

    \b
    Exit codes: 0 shown, 3 not a key file, damaged or edited.
    """
    from mwrelease.trust.keys import show

    info = show(file)
    text = (f"{info.name}: {info.kind} key {info.keytype or '?'}/{info.scheme or '?'}\n  keyid  {info.keyid or '?'}"
            + (f"\n  public {info.public}" if info.public else "")
            + ("\n  encrypted with a passphrase" if info.encrypted else "\n  NOT encrypted" if info.encrypted is False else ""))
    return Result(data=info.to_json(), text=text)
