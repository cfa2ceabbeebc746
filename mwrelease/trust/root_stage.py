"""Root changes signed on separate machines: stage the new root version as a file, each chair signs it on their
own machine (a small signature file that travels by mail or a pull request, like a member's approval), and
`sig publish-root` gathers the signature files and writes the root once the old and the new root threshold
signed it (python-tuf's own root verification, what every client runs).

    sig members add --channel DIR NEW.pub --stage root-v3.json    # the release manager, no private key
    sig sign-root root-v3.json --key CHAIR.key                      # each chair: root-v3.<keyid>.sig.json
    sig publish-root root-v3.json --channel DIR                     # gathers root-v3.*.sig.json beside it
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.trust.keys import key_name
from mwrelease.trust.layout import Channel, channel_lock, md_bytes, write_atomic
from mwrelease.trust.root import RootChange, install_root, next_root, sign_root

SIG_SUFFIX = ".sig.json"


def stage(channel_dir: Path, change: RootChange, out: Path) -> Any:
    """Write root version N+1 with ``change``, unsigned, to ``out``. Returns its Metadata."""
    if out.exists():
        raise ConfigError(f"{out} already exists.", hint="Pass another --stage file, or remove it.")
    md = next_root(Channel(channel_dir), change)
    write_atomic(out, md_bytes(md))
    return md


def load_staged(path: Path) -> Any:
    from tuf.api.metadata import Metadata

    try:
        md = Metadata.from_bytes(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"Staged root {path} does not exist.", hint="Check the path.") from None
    except Exception as exc:  # python-tuf's DeserializationError for anything that is not metadata
        raise IntegrityError(f"{path} is not TUF root metadata ({exc}).",
                             hint="Ask for the staged root again (`sig ... --stage FILE`).") from None
    if md.signed.type != "root":
        raise IntegrityError(f"{path} is {md.signed.type} metadata, not a staged root.")
    md.signatures.clear()  # signatures travel as separate files
    return md


def signature_files(staged: Path) -> list[Path]:
    """The signature files beside a staged root: STEM.<keyid>.sig.json."""
    return sorted(staged.parent.glob(f"{staged.name.removesuffix('.json')}.*{SIG_SUFFIX}"))


def sign_staged(staged: Path, signer: Any, out: Path | None = None) -> tuple[Path, list[str]]:
    """A chair signs the staged root: writes one TUF signature as a small file. Returns (file, warnings)."""
    md = load_staged(staged)
    kid = signer.public_key.keyid
    warnings = []
    if kid not in md.signed.roles["root"].keyids:
        # An outgoing chair signs a rotation too (the old threshold); only publish-root knows the old root.
        warnings.append(f"{key_name(signer.public_key)} is not a chair of the staged root version "
                        f"{md.signed.version}: the signature counts only if it is a chair of the current root")
    sig = md.sign(signer, append=True)
    out = out or staged.with_name(f"{staged.name.removesuffix('.json')}.{kid[:16]}{SIG_SUFFIX}")
    write_atomic(out, (json.dumps(sig.to_dict(), indent=1) + "\n").encode())
    return out, warnings


def describe(md: Any) -> list[str]:
    """What a chair is asked to sign, in words."""
    root = md.signed

    def names(role: str) -> str:
        return ", ".join(key_name(root.keys[k]) for k in root.roles[role].keyids)

    return [f"root version {root.version}, expires {root.expires:%Y-%m-%d}",
            f"chairs ({root.roles['root'].threshold} to sign a root): {names('root')}",
            f"members ({root.roles['targets'].threshold} to approve a release): {names('targets')}",
            f"online key: {names('timestamp')}"]


def publish_staged(staged: Path, channel_dir: Path, sig_paths: list[Path]) -> tuple[Any, list[str]]:
    """Gather the chairs' signature files and write the staged root as the channel's next root version."""
    from securesystemslib.signer import Signature  # type: ignore[attr-defined]

    channel = Channel(channel_dir)
    channel.require()
    with channel_lock(channel):
        md = load_staged(staged)
        current = channel.root()
        if md.signed.version != current.signed.version + 1:
            raise ConfigError(f"The staged root {staged} is version {md.signed.version}, but the channel is at root "
                              f"version {current.signed.version}: it is stale (or for another channel).",
                              hint="Stage the change again against the current root and gather the signatures again.")
        bad: list[str] = []
        for f in dict.fromkeys(sig_paths or signature_files(staged)):
            try:
                sig = Signature.from_dict(json.loads(f.read_text()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                bad.append(f"{f.name}: not a signature file")
                continue
            md.signatures[sig.keyid] = sig
        try:
            sign_root(md, [], current.signed)
        except IntegrityError as exc:
            raise IntegrityError(exc.message, hint=exc.hint, details=bad + _unverified(md, current.signed)) from None
        online_changed = set(md.signed.roles["timestamp"].keyids) != set(current.signed.roles["timestamp"].keyids)
        return md, install_root(channel, md, online_changed=online_changed)


def _unverified(md: Any, previous: Any) -> list[str]:
    """Why each gathered signature did not count (for the refusal's details)."""
    keys = {**previous.keys, **md.signed.keys}
    chairs = set(previous.roles["root"].keyids) | set(md.signed.roles["root"].keyids)
    out = []
    for kid, sig in md.signatures.items():
        if kid not in chairs:
            out.append(f"{kid[:12]}…: not a chair of the current or the staged root")
            continue
        try:
            keys[kid].verify_signature(sig, md.signed_bytes)
        except Exception:
            out.append(f"{key_name(keys[kid])}: signature does not verify (made over another staged root)")
    return out
