from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import OutDir, OutputFile, out_dir_option, output_option
from mwrelease.errors import ConfigError
from mwrelease.output import Result


@click.command("seal")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--lock", "lock_path", type=click.Path(path_type=Path),
              help="Seal only this lock (its results must be among RESULTS).")
@output_option("Write the canonical seal statement (JSON) to this file (one lock; several: --out-dir).")
@out_dir_option("Write one statement per lock into this folder, as BUNDLE.seal.json.")
@click.option("--html", "html_path", type=OutputFile(), help="Write the HTML matrix page to this file.")
@click.option("--badges", "badges_dir", type=OutDir(), help="Write SVG badges into this folder.")
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="TARBALL", help="A release artifact built from the lock (`release build`): its sha256 becomes "
                                      "a subject of the statement beside the lock's (repeatable; needs --lock).")
@click.option("--sign", "sign_key", type=click.Path(path_type=Path), metavar="KEY",
              help="Also write each statement as a DSSE envelope signed with this private key (X.seal.dsse.json).")
@json_option
@reporting("seal")
def seal(results: tuple[Path, ...], lock_path: Path | None, output: Path | None, out_dir: Path | None,
         html_path: Path | None, badges_dir: Path | None, artifacts: tuple[Path, ...], sign_key: Path | None) -> Result:
    """Compute the seal verdict from RESULTS files of `mwrelease test` (merged; a later cell id wins).

    Per extension and per bundle: sealed, provisional, failed or untested, by the policy in
    `mwrelease.seal` (also written into every statement). The statement is canonical JSON (sorted keys,
    no whitespace) in the in-toto Statement shape, over the lock's sha256 and the results' digests,
    ready to be signed (--sign KEY writes it as a DSSE envelope; check it with `mwrelease seal-verify`).
    Sealed again after `release build` with --artifact TARBALL, the statement names the tarball's sha256 too,
    and `release propose` accepts that tarball only.

    \b
    Exit codes: 0 no seal failed, 7 a seal's verdict is FAILED (the files are still written), 3 bad input.
    """
    from mwrelease import __version__
    from mwrelease.lock import Lock
    from mwrelease.lock import lock_digest
    from mwrelease.runner.results import Results
    from mwrelease.seal import seal as do_seal

    loaded = [Results.load(p) for p in results]
    digest = lock_digest(Lock.load(lock_path)) if lock_path else None
    seals = do_seal(loaded, lock_sha256=digest, lock_name=lock_path.name if lock_path else "",
                    generated_by=f"mwrelease {__version__}")
    if artifacts:
        seals = [_with_artifacts(seals, lock_path, artifacts)]
    written: list[str] = []
    if output:
        if len(seals) != 1:
            raise ConfigError(f"The results hold {len(seals)} locks, and -o names one file.",
                              hint="Pass --out-dir DIR for one statement per lock, or --lock to seal one.")
        output.write_bytes(seals[0].canonical())
        written.append(str(output))
    if out_dir:
        for s in seals:
            p = out_dir / f"{s.bundle}.seal.json"
            p.write_bytes(s.canonical())
            written.append(str(p))
    if sign_key:
        from mwrelease.cli.key import load_signer
        from mwrelease.trust.dsse import sign_seals

        written += sign_seals(seals, output or out_dir, load_signer(sign_key))
    if html_path:
        from mwrelease.report.seal_html import render_seal_page

        html_path.write_text(render_seal_page(seals, loaded))
        written.append(str(html_path))
    if badges_dir:
        from mwrelease.report.badges import write_badges

        written += [str(p) for p in write_badges(list(seals), badges_dir)]

    def text() -> str:
        out = []
        for s in seals:
            counts = ", ".join(f"{n} {k}" for k, n in s.counts().items() if n)
            out.append(f"{s.bundle} (core {s.core_line}, lock {s.lock_sha256[:12]}): {s.verdict.upper()} — {counts}")
            for r in s.reasons:
                out.append(f"    {r}")
            for c in s.components:
                if c.verdict in ("failed", "untested"):
                    out.append(f"  {c.verdict:<11} {c.name}: {'; '.join(c.reasons[:2])[:300]}")
            for line, by_verdict in s.other_lines().items():
                for verdict, names in by_verdict.items():
                    out.append(f"  on core {line} (not sealed here): {verdict} {len(names)}: {', '.join(names)}")
        if written:
            out.append("wrote " + ", ".join(written[:6]) + (f" and {len(written) - 6} more" if len(written) > 6 else ""))
        return "\n".join(out)

    # The seal is a gate: a FAILED verdict fails the command (CI stops before release build).
    failed = any(s.verdict == "failed" for s in seals)
    return Result(data={"seals": [s.statement() for s in seals], "written": written}, text=text,
                  exit_code=7 if failed else 0)


def _with_artifacts(seals: list[Any], lock_path: Path | None, artifacts: tuple[Path, ...]) -> Any:
    """The one seal of --lock with the artifacts' digests as more subjects; each artifact's manifest (beside it,
    when there) must be of the same bundle and core version."""
    import dataclasses
    import json

    from mwrelease.release.channel import manifest_beside
    from mwrelease.release.manifest import Manifest, sha256_file

    if lock_path is None or len(seals) != 1:
        raise ConfigError("--artifact needs exactly one lock (--lock LOCK): the artifact is attested as built from it.",
                          hint="Pass --lock with the lock the artifact was built from.")
    (s,) = seals
    subjects = []
    for art in artifacts:
        mpath = manifest_beside(art)
        if mpath.is_file():
            m = Manifest.from_json(json.loads(mpath.read_text()), origin=mpath.name)
            if (m.bundle, m.core_version) != (s.bundle, s.core_version):
                raise ConfigError(f"{art.name} was built from bundle {m.bundle!r} on core {m.core_version}, not from "
                                  f"{lock_path.name} ({s.bundle!r} on core {s.core_version}).",
                                  hint="Pass the artifacts `release build` made from this lock.")
        subjects.append((art.name, sha256_file(art)))
    return dataclasses.replace(s, artifacts=tuple(subjects))
