"""`mwrelease sig init|members|chairs|rotate-online|renew|status`: the SIG as TUF roles of a channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result

PathType = click.Path(path_type=Path)
channel_opt = click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The channel directory (metadata/ and targets/ inside).")
_sign_root_opt = click.option("--sign-root", "sign_root", multiple=True, type=PathType, metavar="CHAIR.key",
                              help="A chair's private key to sign the new root with (repeatable: the root threshold "
                                   "of the old root and of the new one must sign).")
_stage_opt = click.option("--stage", "stage", type=PathType, metavar="FILE",
                          help="Do not write the root: stage it, unsigned, as FILE for chairs to sign on their own "
                               "machines (`sig sign-root FILE --key CHAIR.key`, then `sig publish-root FILE`).")


def sign_root_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    return _sign_root_opt(_stage_opt(fn))


def _expiry_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for role, default in (("root", "1y"), ("targets", "1y"), ("snapshot", "7d"), ("timestamp", "1d")):
        fn = click.option(f"--{role}-expiry", f"{role}_expiry", metavar="DURATION", default=None,
                          help=f"How long {role} metadata stays valid (e.g. 1d, 7d, 1y; default {default}).")(fn)
    return fn


def _expiry(**kw: str | None) -> dict[str, int]:
    from mwrelease.trust.layout import parse_duration

    return {k[: -len("_expiry")]: parse_duration(v) for k, v in kw.items() if v is not None}


def _signers(paths: tuple[Path, ...]) -> list[Any]:
    from mwrelease.cli.key import load_signer

    return [load_signer(p) for p in paths]


@click.group("sig")
def sig() -> None:
    """The SIG of a signed channel: chairs (root keys), members (approvers) and the online key."""


@sig.command("init")
@channel_opt
@click.option("--root-key", "root_keys", multiple=True, required=True, type=PathType, metavar="CHAIR.pub",
              help="A chair's public key (repeatable): the root role, kept offline.")
@click.option("--root-threshold", type=int, default=1, show_default=True, help="Chairs needed to sign a root.")
@click.option("--member", "members", multiple=True, required=True, type=PathType, metavar="MEMBER.pub",
              help="A SIG member's public key (repeatable): members approve releases (the targets role).")
@click.option("--threshold", type=int, required=True, help="K: member approvals a release needs.")
@click.option("--online-key", required=True, type=PathType, metavar="ONLINE.pub",
              help="Public key of the online key that signs snapshot and timestamp (NAME.pub, or NAME.key).")
@_sign_root_opt
@_expiry_options
@json_option
@reporting("sig init")
def init(channel_dir: Path, root_keys: tuple[Path, ...], root_threshold: int, members: tuple[Path, ...],
         threshold: int, online_key: Path, sign_root: tuple[Path, ...], **expiry: str | None) -> Result:
    """Create a signed channel: root version 1, signed by the chairs (--sign-root, the root threshold of them).

    The chairs sign together once (a key ceremony); members then approve releases on their own machines.

    \b
    Exit codes: 0 created, 3 bad key file, wrong passphrase, threshold or existing channel,
    8 too few chair signatures (nothing written).
    """
    from mwrelease.cli.key import load_publics
    from mwrelease.trust.keys import key_name
    from mwrelease.trust.layout import DEFAULT_EXPIRY
    from mwrelease.trust.root import RootSpec, init as do_init

    online = load_publics([online_key.with_suffix(".pub") if online_key.suffix == ".key" else online_key])[0]
    spec = RootSpec(root_keys=tuple(load_publics(root_keys)), root_threshold=root_threshold,
                    members=tuple(load_publics(members)), threshold=threshold, online_key=online,
                    expiry={**DEFAULT_EXPIRY, **_expiry(**expiry)})
    md = do_init(channel_dir, spec, _signers(sign_root))
    root = md.signed
    return Result(data={"channel": str(channel_dir), "root_version": root.version,
                        "chairs": [key_name(k) for k in spec.root_keys], "members": [key_name(k) for k in spec.members],
                        "threshold": threshold, "root_threshold": root_threshold},
                  text=f"created {channel_dir}/metadata/1.root.json: chairs {', '.join(key_name(k) for k in spec.root_keys)} "
                       f"({root_threshold} to sign a root), members {', '.join(key_name(k) for k in spec.members)} "
                       f"({threshold} to approve a release), online key {key_name(online)}")


def _changed(channel_dir: Path, change: Any, sign_root: tuple[Path, ...], stage: Path | None = None) -> Result:
    from mwrelease.trust.root import change_root

    if stage is not None:
        from mwrelease.trust.root_stage import describe, stage as do_stage

        if sign_root:
            raise click.UsageError("--stage writes the root unsigned: chairs sign it with `sig sign-root`.")
        staged = do_stage(channel_dir, change, stage)
        return Result(data={"staged": str(stage), "root_version": staged.signed.version, "changes": change.describe()},
                      text=f"staged root version {staged.signed.version} as {stage}: {'; '.join(change.describe())}\n  "
                           + "\n  ".join(describe(staged)) + f"\n  each chair signs it with `mwrelease sig sign-root "
                           f"{stage} --key CHAIR.key`; then `mwrelease sig publish-root {stage} --channel {channel_dir}`")
    md, warnings = change_root(channel_dir, change, _signers(sign_root))
    what = "; ".join(change.describe())
    return Result(data={"root_version": md.signed.version, "changes": change.describe(), "warnings": warnings},
                  text=f"root version {md.signed.version} written: {what}", warnings=warnings)


@sig.group("members")
def members() -> None:
    """Add or remove SIG members (a new root version signed by the chairs)."""


@members.command("add")
@channel_opt
@click.argument("pubs", nargs=-1, required=True, type=PathType)
@click.option("--threshold", type=int, help="Also set K, the approvals a release needs.")
@sign_root_opt
@json_option
@reporting("sig members add")
def members_add(channel_dir: Path, pubs: tuple[Path, ...], threshold: int | None, sign_root: tuple[Path, ...],
        stage: Path | None) -> Result:
    """Add the members whose public keys are PUBS.

    \b
    Exit codes: 0 done, 3 bad key or threshold, 8 too few chair signatures, 10 already a member.
    """
    from mwrelease.cli.key import load_publics
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(add_members=tuple(load_publics(pubs)), threshold=threshold), sign_root, stage)


def _refs(refs: tuple[str, ...]) -> tuple[str, ...]:
    """Names, keyids or .pub files -> names/keyids."""
    from mwrelease.trust.keys import load_public

    return tuple(load_public(Path(r)).keyid if r.endswith(".pub") else r for r in refs)


@members.command("remove")
@channel_opt
@click.argument("who", nargs=-1, required=True)
@click.option("--threshold", type=int, help="Also set K, the approvals a release needs.")
@sign_root_opt
@json_option
@reporting("sig members remove")
def members_remove(channel_dir: Path, who: tuple[str, ...], threshold: int | None, sign_root: tuple[Path, ...],
        stage: Path | None) -> Result:
    """Remove members named by WHO (a name, a keyid or its prefix, or a .pub file). Their signatures stop counting.

    \b
    Exit codes: 0 done, 3 unknown member or a threshold that can no longer be met, 8 too few chair signatures.
    """
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(remove_members=_refs(who), threshold=threshold), sign_root, stage)


@sig.group("chairs")
def chairs() -> None:
    """Add or remove chairs (root keys): root rotation, signed by the old and the new root threshold."""


@chairs.command("add")
@channel_opt
@click.argument("pubs", nargs=-1, required=True, type=PathType)
@click.option("--root-threshold", type=int, help="Also set the root threshold.")
@sign_root_opt
@json_option
@reporting("sig chairs add")
def chairs_add(channel_dir: Path, pubs: tuple[Path, ...], root_threshold: int | None, sign_root: tuple[Path, ...],
        stage: Path | None) -> Result:
    """Add chairs whose public keys are PUBS."""
    from mwrelease.cli.key import load_publics
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(add_chairs=tuple(load_publics(pubs)), root_threshold=root_threshold),
                    sign_root, stage)


@chairs.command("remove")
@channel_opt
@click.argument("who", nargs=-1, required=True)
@click.option("--root-threshold", type=int, help="Also set the root threshold.")
@sign_root_opt
@json_option
@reporting("sig chairs remove")
def chairs_remove(channel_dir: Path, who: tuple[str, ...], root_threshold: int | None, sign_root: tuple[Path, ...],
        stage: Path | None) -> Result:
    """Remove chairs named by WHO (name, keyid or .pub file), e.g. after a chair's key was lost or compromised."""
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(remove_chairs=_refs(who), root_threshold=root_threshold), sign_root, stage)


@sig.command("rotate-online")
@channel_opt
@click.argument("pub", type=PathType)
@sign_root_opt
@json_option
@reporting("sig rotate-online")
def rotate_online(channel_dir: Path, pub: Path, sign_root: tuple[Path, ...],
        stage: Path | None) -> Result:
    """Replace the online (snapshot/timestamp) key by PUB; then run `channel refresh` with the new key."""
    from mwrelease.cli.key import load_publics
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(online_key=load_publics([pub])[0]), sign_root, stage)


@sig.command("renew")
@channel_opt
@sign_root_opt
@_expiry_options
@json_option
@reporting("sig renew")
def renew(channel_dir: Path, sign_root: tuple[Path, ...], stage: Path | None = None, **expiry: str | None) -> Result:
    """Write a new root version with a fresh expiry (and, if given, new expiry periods)."""
    from mwrelease.trust.root import RootChange

    return _changed(channel_dir, RootChange(expiry=_expiry(**expiry) or None), sign_root, stage)


@sig.command("status")
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The channel directory.")
@json_option
@reporting("sig status")
def status(channel_dir: Path) -> Result:
    """Chairs, members, thresholds, the online key, each role's version and expiry, pending proposals."""
    from mwrelease.trust.repo import status as do_status

    st = do_status(channel_dir)

    def text() -> str:
        out = [f"channel {st['channel']} (id {st['channel_id'][:16]}…)",
               f"root v{st['root']['version']}: {st['root']['threshold']} of chairs "
               + ", ".join(c["name"] for c in st["root"]["chairs"]),
               f"members ({st['threshold']} of {len(st['members'])} approve a release): "
               + ", ".join(f"{m['name']} {m['keyid'][:12]}" for m in st["members"]),
               "online key: " + ", ".join(f"{m['name']} {m['keyid'][:12]}" for m in st["online_key"])]
        for role in ("root", "targets", "snapshot", "timestamp"):
            r = st[role]
            if r is None:
                out.append(f"  {role:9} (not published yet)")
            else:
                out.append(f"  {role:9} v{r['version']:<4} expires {r['expires']}" + ("  EXPIRED" if r["expired"] else ""))
        for p in st["pending"]:
            if "error" in p:
                out.append(f"pending {p['proposal']}: {p['error']}")
            else:
                out.append(f"pending {p['release'] or 'renewal'}: {p['approvals']} of {p['threshold']} approvals "
                           f"({', '.join(p['approved_by']) or 'none'})" + (" STALE" if p["stale"] else "")
                           + f"  {p['proposal']}")
        return "\n".join(out)

    return Result(data=st, text=text)


def _attach_root_staging() -> None:
    from mwrelease.cli.sig_root import publish_root, sign_root

    sig.add_command(sign_root)
    sig.add_command(publish_root)


_attach_root_staging()
