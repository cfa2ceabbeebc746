"""One stop of an upgrade (1.39 -> 1.43), as a table of journaled steps over one stop context.

    download  fetch the artifact and its manifest from the channel; sha256 checked while streaming
    unpack    unpack beside the wiki and verify every file against the manifest (wiki untouched so far)
    readonly  $wgReadOnly on: a marked require line appended to LocalSettings.php
    backup    database (online), LocalSettings.php, the list of uploaded files with their sha256
    stage     LocalSettings.php, images/ (hard links), kept extensions and other admin files into the new tree
    update    update.php (maintenance/run.php update on 1.40+) from the new tree
    switch    the wiki path now serves the new tree (rename of a temp symlink, or two journaled renames)
    health    HTTP: main page, Special:Version, API siteinfo (version, every expected extension), a parse
    live      read-only off

``run_stop`` journals each step (begin, fault injection, the step, done); ``undo_on_failure`` wraps the
whole sequence: any failure, SIGTERM or Ctrl-C undoes the stop from the journal (``undo.undo``) and is
reported as one error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

from mwrelease.errors import ConfigError, IntegrityError, MwreleaseError, SourceError, UpgradeError
from mwrelease.fsutil import now, write_atomic
from mwrelease.release.archive import unpack_verified
from mwrelease.release.channel import ArtifactRef, ReleaseEntry
from mwrelease.trust.client import ChannelReader
from mwrelease.release.manifest import Manifest
from mwrelease.upgrade import backup as bk
from mwrelease.upgrade.health import Health, check_health
from mwrelease.upgrade.inspect import INSTALLED_MANIFEST, Installation
from mwrelease.upgrade.journal import Journal
from mwrelease.upgrade.plan import Plan, Stop
from mwrelease.upgrade.processes import describe, fault, log_tail, reload_server, run_update
from mwrelease.upgrade.settings import readonly_off, readonly_on, stage_admin_files
from mwrelease.upgrade.space import (RESERVE_BYTES, RESERVE_FILE, check_space, disk_full, free_space, full_filesystems,
                                     hold_reserve)
from mwrelease.upgrade.switch import park, switch
from mwrelease.upgrade.undo import undo

Say = Callable[[str], None]
Progress = Callable[[str, int], Callable[[int], None]]


@dataclass(kw_only=True)
class StopRun:
    """Everything one stop's steps share: given at the start, then filled in by the steps in order."""

    stop: Stop
    rel: ReleaseEntry
    inst: Installation
    plan: Plan
    client: ChannelReader  # TUF-verified (or, with --allow-unsigned, the unsigned ChannelClient)
    state: Path
    wiki: Path
    journal: Journal
    log: Path
    say: Say
    progress: Progress | None
    php_before: str
    reload_command: str | None
    update_timeout: float
    url: str | None
    skip_http: bool
    t_start: float
    # filled in by the steps
    art: ArtifactRef | None = None
    manifest: Manifest | None = None
    art_manifest: Manifest | None = None
    tarball: Path | None = None
    new_tree: Path | None = None
    t_ro: float = 0.0
    images: dict[str, Any] | None = None
    health: Health | None = None

    @property
    def disabled(self) -> list[str]:
        return [e.name for e in self.plan.disabled]

    @property
    def upgrading_note(self) -> str:
        return f"This wiki is being upgraded to MediaWiki {self.stop.version}; editing is back in a few minutes."


def _download(c: StopRun) -> str:
    art = c.rel.delta_from(c.stop.delta_from) if c.stop.delta_from else c.rel.full()
    assert art is not None
    dl = c.state / "downloads"
    manifest = c.client.manifest(c.rel.manifest_file, c.rel.manifest_sha256)
    if art.kind == "delta":
        assert art.manifest_file and art.manifest_sha256
        art_manifest = c.client.manifest(art.manifest_file, art.manifest_sha256)
    else:
        art_manifest = manifest
    if art_manifest.core_version != c.stop.version or manifest.tree_sha256 != art_manifest.tree_sha256:
        raise IntegrityError(f"The manifests of {c.stop.version} in the channel disagree with each other.")
    unpacked = sum(f.size for f in manifest.files)
    inst = c.inst
    check_space({dl: art.size, c.state / "backups": bk.database_size(inst.db) + 1_000_000 + RESERVE_BYTES,
                 c.wiki.parent if inst.layout == "directory" else inst.tree.parent: unpacked})
    hold_reserve(c.state)
    tick = c.progress(f"downloading {art.file}", art.size) if c.progress else None
    c.tarball = c.client.download(art, dl, progress=tick)
    c.art, c.manifest, c.art_manifest = art, manifest, art_manifest
    return f"{art.file} sha256 {art.sha256}"


def _before_unpack(c: StopRun) -> None:
    c.new_tree = new_tree_path(c.wiki, c.inst, c.stop.version, c.journal.id)
    c.journal.set_path("new_tree", str(c.new_tree))
    c.journal.set_path("old_tree", str(c.inst.tree))


def _unpack(c: StopRun) -> str:
    assert c.art and c.manifest and c.art_manifest and c.tarball and c.new_tree
    delta = c.art.kind == "delta"
    tick = c.progress(f"unpacking and verifying {len(c.manifest.files)} files",
                      len(c.art_manifest.delta_changed) if delta else len(c.manifest.files)) if c.progress else None
    unpack_verified(c.tarball, c.art_manifest, c.new_tree, old_tree=c.inst.tree if delta else None, tick=tick)
    park(c.new_tree)  # not served until the switch (it gets LocalSettings.php)
    # Exact versions and commits: for mwrelease, not for the web (the tree may sit under the web root).
    (c.new_tree / ".mwrelease").mkdir(mode=0o700, exist_ok=True)
    os.chmod(c.new_tree / ".mwrelease", 0o700)
    write_atomic(c.new_tree / INSTALLED_MANIFEST, c.manifest.dumps(), mode=0o600)
    return f"{len(c.manifest.files)} files verified"


def _readonly(c: StopRun) -> None:
    readonly_on(c.inst.tree, c.upgrading_note)
    # opcache may serve the old LocalSettings.php (always, with opcache.validate_timestamps=0): reload.
    reload_server(c.reload_command, c.log, php=c.php_before)
    c.t_ro = time.monotonic()
    c.journal.data["read_only_since"] = now()


def _backup(c: StopRun) -> str:
    j, inst = c.journal, c.inst
    bdir = c.state / "backups" / j.id
    j.set_path("backup", str(bdir))
    with bk.private_files():  # the dump and the settings hold the wiki's data and password: 0700/0600
        dbinfo = bk.backup_database(inst.db, bdir / "database", log=c.log)
        shutil.copy2(inst.tree / "LocalSettings.php", bdir / "LocalSettings.php")
        os.chmod(bdir / "LocalSettings.php", 0o600)
        c.images = bk.images_manifest(Path(inst.upload_dir))
        (bdir / "images.json").write_text(json.dumps(c.images, indent=1) + "\n")
        bk.write_backup_info(bdir, {"id": j.id, "from": inst.core_version, "to": c.stop.version, "database": dbinfo,
                                    "old_tree": str(inst.tree), "created": now()})
    return f"database {dbinfo['type']}, {len(c.images['files'])} uploaded files listed"


def _stage(c: StopRun) -> str:
    assert c.new_tree
    copied = stage_admin_files(c.inst, c.new_tree, disabled=c.disabled, upload_dir=Path(c.inst.upload_dir))
    return f"copied: {', '.join(copied)}"


def _update(c: StopRun) -> str:
    assert c.new_tree
    return run_update(c.new_tree, c.stop.version, php=c.stop.php, log=c.log, journal=c.journal,
                      timeout=c.update_timeout)


def _before_switch(c: StopRun) -> None:
    assert c.new_tree
    readonly_on(c.new_tree, c.upgrading_note)


def _switch(c: StopRun) -> None:
    assert c.new_tree
    switch(c.journal, c.wiki, layout=c.inst.layout, tree=c.new_tree,
           park_as=f"{c.wiki.name}.mwrelease-old-{c.inst.core_version}", park_key="aside")
    reload_server(c.reload_command, c.log, php=c.stop.php)


def _health(c: StopRun) -> str:
    assert c.images is not None
    expected = [e.name for e in c.inst.loaded if e.name not in c.disabled]
    health = check_health(c.wiki, c.stop.version, expected, url=c.url or c.inst.server_url, skip_http=c.skip_http,
                          php=c.stop.php)
    missing_files = bk.check_images(c.images, upload_dir_after(c.inst, c.wiki))
    if missing_files:
        health.ok = False
        health.problems.append(f"uploaded files missing or changed after the switch: {', '.join(missing_files[:5])}")
    if not health.ok:
        hint = None if c.reload_command else (
            "PHP servers keep caches between requests (APCu, opcache): if the wiki runs under php-fpm, mod_php "
            "or `php -S`, pass --reload-command with the command that reloads it.")
        raise UpgradeError(f"The health check of MediaWiki {c.stop.version} failed.", details=health.problems,
                           hint=hint)
    c.health = health
    return "; ".join(health.checks)


def _live(c: StopRun) -> None:
    readonly_off(c.wiki.resolve())  # no reload needed: the require line is guarded by is_file()


@dataclass(frozen=True, kw_only=True)
class Step:
    name: str
    run: Callable[[StopRun], str | None]  # returns the journal's detail for the step
    before: Callable[[StopRun], None] | None = None  # done before the step is journaled as begun
    fault_at_begin: bool = True  # update.php injects its fault itself, once the child process runs


STEPS: tuple[Step, ...] = (
    Step(name="download", run=_download),
    Step(name="unpack", run=_unpack, before=_before_unpack),
    Step(name="readonly", run=_readonly),
    Step(name="backup", run=_backup),
    Step(name="stage", run=_stage),
    Step(name="update", run=_update, fault_at_begin=False),
    Step(name="switch", run=_switch, before=_before_switch),
    Step(name="health", run=_health),
    Step(name="live", run=_live),
)


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated(f"received signal {signum}")


def run_stop(c: StopRun) -> dict[str, Any]:
    j, stop = c.journal, c.stop
    c.say(f"Upgrading {c.wiki} from {c.inst.core_version} to {stop.version} (journal {j.path}, log {c.log})")
    with undo_on_failure(c):
        for step in STEPS:
            if step.before is not None:
                step.before(c)
            j.begin(step.name)
            if step.fault_at_begin:
                fault(step.name, stop.version)
            j.done(step.name, step.run(c))
        ro_seconds = time.monotonic() - c.t_ro
        total = time.monotonic() - c.t_start
        assert c.health is not None
        (c.state / RESERVE_FILE).unlink(missing_ok=True)
        j.finish("done", extra={"read_only_seconds": round(ro_seconds, 2), "total_seconds": round(total, 2),
                                "health": c.health.to_json(),
                                "update_seconds": (j.step("update") or {}).get("seconds")})
    c.say(f"MediaWiki {stop.version} is live at {c.wiki} (read-only for {ro_seconds:.1f} s, total {total:.1f} s).")
    return {"version": stop.version, "read_only_seconds": round(ro_seconds, 2), "total_seconds": round(total, 2),
            "update_seconds": (j.step("update") or {}).get("seconds"), "health": c.health.to_json(),
            "backup": j.path_of("backup"), "old_tree": j.path_of("aside") or str(c.inst.tree), "journal_id": j.id}


@contextmanager
def undo_on_failure(c: StopRun) -> Iterator[None]:
    """SIGTERM becomes an exception for the duration; any exception undoes the stop and is re-raised as
    one error that says what happened and where the wiki is now."""
    old_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except BaseException as exc:
        _fail(c, exc)
    finally:
        signal.signal(signal.SIGTERM, old_sigterm)


def _fail(c: StopRun, exc: BaseException) -> NoReturn:
    j, inst, log, version = c.journal, c.inst, c.log, c.stop.version
    # The step that was running; or, when writing the journal itself failed (a full disk), the last one.
    failed = next((s["name"] for s in reversed(j.data["steps"]) if s["status"] == "started"),
                  j.data["steps"][-1]["name"] if j.data["steps"] else "start")
    probes = [c.wiki.parent, j.state_dir] + ([Path(inst.db.sqlite_dir)] if getattr(inst.db, "sqlite_dir", "") else [])
    full = full_filesystems(probes)  # before free_space gives room back
    free_space(j, c.say)  # before any write: the failure may be a full disk
    j.mark(failed, "failed")
    c.say(f"Step {failed!r} failed: {describe(exc)}. Restoring the wiki to {inst.core_version}...")
    try:
        undo(j, c.say, db=inst.db, reload_command=c.reload_command)
    except Exception as undo_exc:  # the worst case: say exactly what is where
        raise UpgradeError(
            f"Step {failed!r} of the upgrade to {version} failed ({describe(exc)}), and restoring the old "
            f"state failed too: {describe(undo_exc)}.", details=log_tail(log),
            hint=f"The journal {j.path} and the backup in {j.path_of('backup')} describe what is where; run "
                 "`mwrelease rollback --wiki ...` to try again.") from exc
    if isinstance(exc, (IntegrityError, SourceError, ConfigError)):
        # Nothing changed on the wiki's data yet: keep the precise error kind and exit code.
        exc.message += f" The wiki was left on MediaWiki {inst.core_version}, unchanged."
        raise exc
    details = (exc.details if isinstance(exc, MwreleaseError) else []) + log_tail(log)
    if disk_full(exc) or full:
        where = f"; no space was left on the filesystem of {', '.join(full)}" if full else ""
        raise UpgradeError(
            f"The disk filled up during step {failed!r} of the upgrade to MediaWiki {version} "
            f"({describe(exc)}{where}). The wiki was restored to MediaWiki {inst.core_version} with its database as it "
            "was before, and is writable again.", details=details,
            hint=f"Free space on that filesystem (`mwrelease prune --wiki {c.wiki}` removes the old trees and "
                 "backups of earlier upgrades), then run the upgrade again.") from None
    raise UpgradeError(
        f"The upgrade to MediaWiki {version} failed at step {failed!r}: {describe(exc)}. The wiki was "
        f"restored to MediaWiki {inst.core_version} with its database as it was before, and is writable again.",
        details=details, hint=f"The full log is {log}. Fix the cause (see the log excerpt) and run the upgrade "
                              "again.") from (exc if not isinstance(exc, KeyboardInterrupt) else None)


def new_tree_path(wiki: Path, inst: Installation, version: str, jid: str) -> Path:
    if inst.layout == "symlink":
        base = inst.tree.parent / f"mediawiki-{version}"
    else:
        base = wiki.parent / f".{wiki.name}.mwrelease-new-{version}"
    return base if not base.exists() else base.with_name(base.name + f"-{jid}")


def upload_dir_after(inst: Installation, wiki: Path) -> Path:
    up = Path(inst.upload_dir)
    try:
        rel = up.resolve().relative_to(inst.tree)
    except ValueError:
        return up  # outside the tree: unchanged
    return wiki.resolve() / rel
