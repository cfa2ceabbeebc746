"""`mwrelease release build`: artifacts from a lock and a core tree, core image or official core tarball."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import legacy_output_option, output_option, pick_out_dir
from mwrelease.output import Result


@click.group("release")
def release() -> None:
    """Build release artifacts (tarball, manifest, SHA256SUMS, delta)."""


@release.command("build")
@click.argument("lock", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--core-tree", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Core in the upstream layout (or Debian's /usr/share/mediawiki; symlinks are resolved).")
@click.option("--core-image", help="Take core from this core image's /usr/share/mediawiki instead (needs Docker).")
@click.option("--core-tarball", metavar="URL_OR_PATH",
              help="Take core from an official release tarball (mediawiki-X.Y.Z/ inside): a path, file:// or "
                   "http(s):// URL. Downloads are cached by sha256 under $XDG_CACHE_HOME/mwrelease/tarballs.")
@click.option("--core-sha256", metavar="HEX",
              help="The sha256 the --core-tarball must have (required with it), e.g. from the release announcement.")
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the artifacts (created when missing); SHA256SUMS there is updated.")
# The old spelling: -o is a file everywhere else (README "Command-line conventions"), so it is hidden.
@click.option("-o", "--output", "legacy_out_dir", hidden=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--previous", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest of an older release of the same line: also build a delta artifact from it.")
@json_option
@reporting("release build")
def build(lock: Path, core_tree: Path | None, core_image: str | None, core_tarball: str | None,
          core_sha256: str | None, out_dir: Path | None, legacy_out_dir: Path | None, previous: Path | None) -> Result:
    """Build mediawiki-X.Y.Z.tar.gz (upstream layout: core + locked extensions and skins + vendor),
    its manifest (every file's sha256 and mode) and SHA256SUMS from LOCK.

    Core comes from exactly one of --core-tree, --core-image or --core-tarball with --core-sha256;
    a tarball's origin and digest are recorded in the manifest (core_source).

    \b
    Exit codes: 0 built, 3 lock/core mismatch or bad option, 4 a component source or the core
    tarball cannot be read, 8 the core tarball's sha256 differs, or a tree or tarball holds a
    device, '..' path or other unsafe entry.
    """
    from mwrelease.lock import Lock
    from mwrelease.cli.progress import Progress
    from mwrelease.release.build import build_phases, build_release
    from mwrelease.release.coretree import CoreTarball

    if (out_dir is None) == (legacy_out_dir is None):
        raise click.UsageError("Give the artifacts' folder with --out-dir DIR.")
    out_dir = out_dir or legacy_out_dir
    assert out_dir is not None
    tarball = CoreTarball.from_options(core_tarball, core_sha256)
    lk = Lock.load(lock)
    phases = build_phases(fetch=tarball is not None, delta=previous is not None)
    with Progress("release build", total=len(phases)) as progress:
        progress.note(f"building MediaWiki {lk.core_version} from {core_tree or core_image or core_tarball} "
                      f"({', '.join(phases)})")
        progress.doing(phases[0])

        def on_phase(text: str) -> None:
            progress.done(text, lap=True)
            if progress.count < len(phases):
                progress.doing(phases[progress.count])  # named by the heartbeat while it runs

        arts = build_release(lk, core_tree, out_dir, core_image=core_image, core_tarball=tarball, previous=previous,
                             say=progress.note, on_phase=on_phase)
    lines = [f"{a.tarball}  {a.size / 1e6:.1f} MB  sha256 {a.sha256}  ({len(a.manifest.files)} files, {a.manifest.kind})"
             for a in arts]
    lines.append(f"{out_dir / 'SHA256SUMS'} updated")
    # The build is not the gate (a release manager builds to test), but it must not pass for an approval.
    warning = (f"{lock.name} was built without any check of its seal: these artifacts are not approved. "
               "`mwrelease seal RESULTS --lock LOCK --artifact TARBALL --sign KEY` vouches for them, and "
               "`release propose` / `channel publish` refuse a release without that seal and K SIG approvals.")
    return Result(data={"artifacts": [a.to_json() for a in arts]}, text="\n".join(lines), warnings=[warning])


@release.command("propose")
@click.argument("release_dir", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--channel", "channel_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The signed channel the release is proposed for.")
@click.option("--version", help="Which release of RELEASE_DIR, when it holds several.")
@click.option("--seal", "seal_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The signed seal (X.seal.dsse.json from `mwrelease seal --sign`) of the release's lock.")
@click.option("--seal-key", "seal_keys", multiple=True, type=click.Path(path_type=Path), metavar="PUB",
              help="Who may have signed the seal (repeatable; default: any current SIG member).")
@click.option("--lock", "lock_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The lock the release was built from: checked against the seal; repositories for the SBOM.")
@click.option("--override-seal", "override_reason", metavar="REASON",
              help="Why this release goes out although its seal is not 'sealed' (signed over by every approver).")
@click.option("--out-dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Proposal folder (default CHANNEL/proposals/VERSION-tN; an existing one must be empty).")
@legacy_output_option()
@json_option
@reporting("release propose")
def propose(release_dir: Path | None, channel_dir: Path, version: str | None, seal_path: Path | None,
            seal_keys: tuple[Path, ...], lock_path: Path | None, override_reason: str | None,
            out_dir: Path | None, legacy_out_dir: Path | None) -> Result:
    """Stage the channel's next targets version with a release from RELEASE_DIR (`release build --out-dir` output):
    the artifact, its manifest, its deltas, a CycloneDX SBOM, the seal envelope and the updated index.json.

    Without RELEASE_DIR the current targets are staged again (a renewal, or re-approval after a membership
    change). Members then review and approve it; `channel publish` publishes it.

    \b
    Exit codes: 0 staged, 3 bad release directory, lock or channel, 8 the seal's signature or subject
    does not match.
    """
    from mwrelease.cli.key import load_publics
    from mwrelease.trust.proposal import load_proposal, propose as do_propose

    out = do_propose(channel_dir, release_dir, out_dir=pick_out_dir(out_dir, legacy_out_dir, required=False), version=version, seal=seal_path,
                     seal_keys=load_publics(seal_keys) or None, lock=lock_path, override_reason=override_reason)
    p = load_proposal(out)
    rel = p.release or {}
    return Result(data={"proposal": str(out), "targets_version": p.targets.signed.version, "release": rel},
                  text=f"proposal {out}: targets version {p.targets.signed.version}"
                       + (f", MediaWiki {rel.get('version')} ({rel.get('verdict')})" if rel else " (renewal)")
                       + f"\n  members review it with `mwrelease release review {out}` and approve it with "
                         f"`mwrelease release approve {out} --key KEY`")


@release.command("review")
@click.argument("proposal", type=click.Path(exists=True, path_type=Path))
@click.option("--channel", "channel_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Compute the changes since the previous release from this channel's signed metadata.")
@json_option
@reporting("release review")
def review(proposal: Path, channel_dir: Path | None) -> Result:
    """Show what a member is about to approve: components with refs and commits, changes since the line's
    previous release, the seal verdict per component and the cells it rests on, approvals so far.

    \b
    Exit codes: 0 shown, 3 not a proposal, 8 a staged file does not match the staged targets.
    """
    from mwrelease.trust.review import review as do_review

    data = do_review(proposal, channel_dir)
    from mwrelease.trust.review import render

    return Result(data=data, text=lambda: render(data))


@release.command("approve")
@click.argument("proposal", type=click.Path(exists=True, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(path_type=Path), metavar="MEMBER.key",
              help="Your private key (passphrase from $MWRELEASE_KEY_PASSPHRASE or a prompt).")
@click.option("--override-seal", "override_reason", metavar="REASON",
              help="Approve although the seal is not 'sealed'; REASON is recorded beside your signature.")
@click.option("--channel", "channel_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Check membership and staleness against this channel (default: the root in the proposal).")
@output_option("Also write your signature and approval note as this one small file, to send to the release "
               "manager (mail, a pull request), who passes it to `channel publish --signature FILE`.")
@json_option
@reporting("release approve")
def approve(proposal: Path, key_path: Path, override_reason: str | None, channel_dir: Path | None,
            output: Path | None) -> Result:
    """Sign PROPOSAL's staged targets: writes signatures/KEYID.json and signatures/KEYID.approval.json (your
    signed approval note) into PROPOSAL. Approving on your own machine, on a copy of the proposal? Pass -o FILE and
    send that one file back to the release manager; they publish with `channel publish PROPOSAL --signature FILE`.

    \b
    Exit codes: 0 signed, 3 not a member, wrong passphrase, public key given, stale proposal,
    7 the seal is not 'sealed' (pass --override-seal REASON), 8 the proposal was changed.
    """
    from mwrelease.cli.key import load_signer
    from mwrelease.trust.proposal import load_proposal
    from mwrelease.trust.publish import approve as do_approve

    signer = load_signer(key_path)
    out = do_approve(proposal, signer, override_reason=override_reason, channel_dir=channel_dir, output=output)
    note = out.with_name(f"{signer.public_key.keyid}.approval.json")
    p = load_proposal(out.parent.parent)
    what = (f"MediaWiki {p.release['version']}" if p.release else "a renewal") + \
        f" (targets version {p.targets.signed.version})"
    send = [output] if output is not None else [out, note]
    text = (f"approved {what}" + (f", seal overridden: {override_reason}" if override_reason else "")
            + f"\n  wrote {out} (your signature) and {note} (your signed approval note)"
            + (f"\n  wrote {output}: send this one file" if output is not None else
               "\n  send these two files (or approve again with -o FILE for one file)")
            + " to the release manager, who publishes with `mwrelease channel publish PROPOSAL --signature FILE`")
    return Result(data={"signature": str(out), "approval_note": str(note), "output": str(output) if output else None,
                        "send": [str(f) for f in send], "keyid": signer.public_key.keyid,
                        "targets_version": p.targets.signed.version}, text=text)
