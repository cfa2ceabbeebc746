"""Carry out an upgrade, one journaled step at a time, and undo it on any failure.

Per stop (1.35 -> 1.39 -> 1.43 is two stops, each its own transaction):

    download  fetch the artifact and its manifest from the channel; sha256 checked while streaming
    unpack    unpack beside the wiki and verify every file against the manifest (wiki untouched so far)
    readonly  $wgReadOnly on: a marked require line appended to LocalSettings.php
    backup    database (online), LocalSettings.php, the list of uploaded files with their sha256
    stage     LocalSettings.php, images/ (hard links), kept extensions and other admin files into the new tree
    update    update.php (maintenance/run.php update on 1.40+) from the new tree
    switch    the wiki path now serves the new tree (rename of a temp symlink, or two journaled renames)
    health    HTTP: main page, Special:Version, API siteinfo (version, every expected extension), a parse
    live      read-only off

Undo (``undo``) works from the journal alone, so the next run can finish what a killed run left:
switch back, restore the database, remove read-only, delete the new tree.

A full disk must not stop the undo: each stop holds a reserve file in the state directory
(``RESERVE_BYTES``), and the undo first gives back the reserve, the unused new tree and an incomplete
backup, so the journal, the database restore and LocalSettings.php have room to be written.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import ConfigError, IntegrityError, MwreleaseError, SourceError, UpgradeError
from mwrelease.mwtree import ADMIN_ENTRIES
from mwrelease.release.archive import unpack_verified
from mwrelease.release.channel import ChannelClient, ChannelIndex
from mwrelease.release.lines import line_key, line_of
from mwrelease.release.manifest import Manifest
from mwrelease.upgrade import backup as bk
from mwrelease.upgrade.health import Health, cli_check, http_check
from mwrelease.upgrade.inspect import (INSTALLED_MANIFEST, Installation, adopt_release_manifest, eval_settings,
                                       inspect_wiki, php_version)
from mwrelease.upgrade.journal import Journal, append_history, load_history, now, standing_upgrades, state_dir_for
from mwrelease.upgrade.plan import Plan, Stop, make_plan

READONLY_FILE = "mwrelease-readonly.php"
READONLY_MARK = "# mwrelease:read-only"
DISABLED_MARK = "# mwrelease:disabled"
RESERVE_FILE = "reserve"
RESERVE_BYTES = 8 * 1024 * 1024  # room for the undo's writes when the disk fills during an upgrade
FAULT_ENV = "MWRELEASE_FAULT_KILL_AT"  # fault injection for tests: SIGKILL ourselves when this step begins

Say = Callable[[str], None]


@dataclass(kw_only=True)
class Options:
    wiki: Path
    channel: str
    to: str | None = None
    line: str | None = None
    url: str | None = None
    php: str = "php"  # the PHP that runs the wiki now
    newer_php: tuple[str, ...] = ()  # PHPs the web server can be switched to, for releases the current one cannot run
    state_dir: Path | None = None
    disable_incompatible: bool = False
    dry_run: bool = False
    skip_http: bool = False
    update_timeout: float = 3600.0
    reload_command: str | None = None  # e.g. "systemctl reload php8.2-fpm": run after every switch


@dataclass(kw_only=True)
class Outcome:
    plan: Plan
    done: bool
    stops: list[dict[str, Any]] = field(default_factory=list)
    recovered: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "done": self.done, "stops": self.stops, "recovered": self.recovered}


# --- entry points ------------------------------------------------------------------------------

def prepare(opts: Options, say: Say) -> tuple[Installation, Plan, ChannelClient, ChannelIndex, dict[str, Manifest], dict[str, Any] | None]:
    """Recover from a killed run, inspect, read the channel, plan. Changes nothing else."""
    state = state_dir_for(opts.wiki, opts.state_dir)
    recovered = recover(opts.wiki, state, say, php=opts.php, reload_command=opts.reload_command) \
        if not opts.dry_run else None
    inst = inspect_wiki(opts.wiki, php=opts.php)
    if inst.read_only and READONLY_FILE not in (inst.tree / "LocalSettings.php").read_text(errors="replace"):
        say(f"note: the wiki is read-only by its own setting ({inst.read_only})")
    client = ChannelClient(opts.channel)
    index = client.index()
    manifests: dict[str, Manifest] = {}
    # The plan needs the target's manifest (components); fetch each candidate stop's manifest.
    from mwrelease.upgrade.plan import choose_target, find_stops

    target = choose_target(inst.core_version, index, to=opts.to, line=opts.line)
    stops = find_stops(inst.core_version, target, index)
    for r in stops:
        manifests[r.version] = client.manifest(r.manifest_file, r.manifest_sha256)
    installed_rel = index.find(inst.core_version)
    if inst.installed_manifest is None and installed_rel is not None:
        # Unpacked by hand (from this channel's tarball?): local changes against that release, and the delta
        # applies when there are none.
        inst = adopt_release_manifest(inst, client.manifest(installed_rel.manifest_file, installed_rel.manifest_sha256))
    plan = make_plan(inst, index, manifests, to=opts.to, line=opts.line,
                     disable_incompatible=opts.disable_incompatible, database_bytes=bk.database_size(inst.db),
                     php_versions=php_versions(opts, inst))
    if plan.switches_php and not opts.reload_command and not opts.dry_run:
        switch = next(s for s in plan.stops if s.php != opts.php)
        raise ConfigError(f"MediaWiki {switch.version} runs on {switch.php} (PHP {switch.php_version}), not on the "
                          f"{opts.php} that serves the wiki now, and without --reload-command mwrelease cannot switch "
                          "the web server over; nothing was changed.",
                          hint="Pass --reload-command with a script that points the web server (php-fpm pool, Apache "
                               "module) at $MWRELEASE_PHP and reloads it; it also runs with the old PHP when an "
                               "upgrade is rolled back.")
    return inst, plan, client, index, manifests, recovered


def php_versions(opts: Options, inst: Installation) -> dict[str, str]:
    """Each PHP the admin named, with its version; the one running the wiki first."""
    versions = {opts.php: inst.php_version}
    for php in opts.newer_php:
        v = php_version(php)
        if not v:
            raise ConfigError(f"--php {php} does not run (`{php} -r 'echo PHP_VERSION;'` printed nothing).",
                              hint="Give the path of a PHP CLI binary, e.g. /usr/bin/php8.2.")
        versions[php] = v
    return versions


def upgrade(opts: Options, *, say: Say, confirm: Callable[[Plan], bool],
            progress: Callable[[str, int], Callable[[int], None]] | None = None) -> Outcome:
    inst, plan, client, index, manifests, recovered = prepare(opts, say)
    if opts.dry_run:
        return Outcome(plan=plan, done=False, recovered=recovered)
    if not confirm(plan):
        raise MwreleaseError("Upgrade cancelled; nothing was changed.")
    state = state_dir_for(opts.wiki, opts.state_dir)
    results: list[dict[str, Any]] = []
    php_before = opts.php
    for i, stop in enumerate(plan.stops):
        if i > 0:
            inst = inspect_wiki(opts.wiki, php=php_before)
        results.append(run_stop(opts, inst, plan, stop, client, index, state, say, progress, php_before=php_before))
        php_before = stop.php
    return Outcome(plan=plan, done=True, stops=results, recovered=recovered)


def _fault(step: str, version: str) -> None:
    """Fault injection: MWRELEASE_FAULT_KILL_AT=update kills at the first stop's update, update@1.43.9 at that stop's."""
    if os.environ.get(FAULT_ENV) in (step, f"{step}@{version}"):
        os.kill(os.getpid(), signal.SIGKILL)


class _Terminated(Exception):
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated(f"received signal {signum}")


def run_stop(opts: Options, inst: Installation, plan: Plan, stop: Stop, client: ChannelClient, index: ChannelIndex,
             state: Path, say: Say, progress: Callable[[str, int], Callable[[int], None]] | None, *,
             php_before: str) -> dict[str, Any]:
    rel = index.find(stop.version)
    assert rel is not None
    wiki = Path(os.path.abspath(opts.wiki))
    j = Journal.start(state, wiki=wiki, layout=inst.layout, from_version=inst.core_version, to_version=stop.version)
    j.data["reload_command"] = opts.reload_command
    j.data["php"] = {"before": php_before, "after": stop.php}
    log = state / "logs" / f"{j.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"Upgrading {wiki} from {inst.core_version} to {stop.version} (journal {j.path}, log {log})")
    t_start = time.monotonic()
    t_ro: float | None = None
    old_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        # 1. download
        j.begin("download")
        _fault("download", stop.version)
        art = rel.delta_from(stop.delta_from) if stop.delta_from else rel.full()
        assert art is not None
        dl = state / "downloads"
        manifest = client.manifest(rel.manifest_file, rel.manifest_sha256)
        if art.kind == "delta":
            assert art.manifest_file and art.manifest_sha256
            art_manifest = client.manifest(art.manifest_file, art.manifest_sha256)
        else:
            art_manifest = manifest
        if art_manifest.core_version != stop.version or manifest.tree_sha256 != art_manifest.tree_sha256:
            raise IntegrityError(f"The manifests of {stop.version} in the channel disagree with each other.")
        unpacked = sum(f.size for f in manifest.files)
        check_space({dl: art.size, state / "backups": bk.database_size(inst.db) + 1_000_000 + RESERVE_BYTES,
                     wiki.parent if inst.layout == "directory" else inst.tree.parent: unpacked})
        hold_reserve(state)
        tick = progress(f"downloading {art.file}", art.size) if progress else None
        tarball = client.download(art, dl, progress=tick)
        j.done("download", f"{art.file} sha256 {art.sha256}")

        # 2. unpack + verify, beside the wiki; the wiki itself is untouched
        new_tree = _new_tree_path(wiki, inst, stop.version, j.id)
        j.set_path("new_tree", str(new_tree))
        j.set_path("old_tree", str(inst.tree))
        j.begin("unpack")
        _fault("unpack", stop.version)
        tick = progress(f"unpacking and verifying {len(manifest.files)} files", len(art_manifest.delta_changed)
                        if art.kind == "delta" else len(manifest.files)) if progress else None
        unpack_verified(tarball, art_manifest, new_tree, old_tree=inst.tree if art.kind == "delta" else None, tick=tick)
        (new_tree / ".mwrelease").mkdir(exist_ok=True)
        (new_tree / INSTALLED_MANIFEST).write_text(manifest.dumps())
        j.done("unpack", f"{len(manifest.files)} files verified")

        # 3. read-only on
        j.begin("readonly")
        _fault("readonly", stop.version)
        readonly_on(inst.tree, f"This wiki is being upgraded to MediaWiki {stop.version}; editing is back in a few minutes.")
        # opcache may serve the old LocalSettings.php (always, with opcache.validate_timestamps=0): reload.
        reload_server(opts.reload_command, log, php=php_before)
        t_ro = time.monotonic()
        j.data["read_only_since"] = now()
        j.done("readonly")

        # 4. backup
        j.begin("backup")
        _fault("backup", stop.version)
        bdir = state / "backups" / j.id
        j.set_path("backup", str(bdir))
        dbinfo = bk.backup_database(inst.db, bdir / "database", log=log)
        shutil.copy2(inst.tree / "LocalSettings.php", bdir / "LocalSettings.php")
        upload_dir = Path(inst.upload_dir)
        images = bk.images_manifest(upload_dir)
        (bdir / "images.json").write_text(json.dumps(images, indent=1) + "\n")
        bk.write_backup_info(bdir, {"id": j.id, "from": inst.core_version, "to": stop.version, "database": dbinfo,
                                    "old_tree": str(inst.tree), "created": now()})
        j.done("backup", f"database {dbinfo['type']}, {len(images['files'])} uploaded files listed")

        # 5. stage the admin's files into the new tree
        j.begin("stage")
        _fault("stage", stop.version)
        disabled = [e.name for e in plan.disabled]
        copied = stage_admin_files(inst, new_tree, disabled=disabled, upload_dir=upload_dir)
        j.done("stage", f"copied: {', '.join(copied)}")

        # 6. update.php from the new tree
        j.begin("update")
        update_log = run_update(new_tree, stop.version, php=stop.php, log=log, journal=j, timeout=opts.update_timeout)
        j.done("update", update_log)

        # 7. switch
        readonly_on(new_tree, f"This wiki is being upgraded to MediaWiki {stop.version}; editing is back in a few minutes.")
        j.begin("switch")
        _fault("switch", stop.version)
        switch(j, wiki, inst, new_tree)
        reload_server(opts.reload_command, log, php=stop.php)
        j.done("switch")

        # 8. health check
        j.begin("health")
        _fault("health", stop.version)
        expected = [e.name for e in inst.loaded if e.name not in disabled]
        health = check_health(opts, inst, wiki, stop.version, expected, php=stop.php)
        missing_files = bk.check_images(images, _upload_dir_after(inst, wiki))
        if missing_files:
            health.ok = False
            health.problems.append(f"uploaded files missing or changed after the switch: {', '.join(missing_files[:5])}")
        if not health.ok:
            hint = None if opts.reload_command else (
                "PHP servers keep caches between requests (APCu, opcache): if the wiki runs under php-fpm, mod_php "
                "or `php -S`, pass --reload-command with the command that reloads it.")
            raise UpgradeError(f"The health check of MediaWiki {stop.version} failed.", details=health.problems,
                               hint=hint)
        j.done("health", "; ".join(health.checks))

        # 9. live
        j.begin("live")
        _fault("live", stop.version)
        readonly_off(wiki.resolve())  # no reload needed: the require line is guarded by is_file()
        ro_seconds = time.monotonic() - t_ro
        total = time.monotonic() - t_start
        j.done("live")
        (state / RESERVE_FILE).unlink(missing_ok=True)
        j.finish("done", extra={"read_only_seconds": round(ro_seconds, 2), "total_seconds": round(total, 2),
                                "health": health.to_json(), "update_seconds": (j.step("update") or {}).get("seconds")})
        say(f"MediaWiki {stop.version} is live at {wiki} (read-only for {ro_seconds:.1f} s, total {total:.1f} s).")
        return {"version": stop.version, "read_only_seconds": round(ro_seconds, 2), "total_seconds": round(total, 2),
                "update_seconds": (j.step("update") or {}).get("seconds"), "health": health.to_json(),
                "backup": j.path_of("backup"), "old_tree": j.path_of("aside") or str(inst.tree), "journal_id": j.id}
    except BaseException as exc:
        # The step that was running; or, when writing the journal itself failed (a full disk), the last one.
        failed = next((s["name"] for s in reversed(j.data["steps"]) if s["status"] == "started"),
                      j.data["steps"][-1]["name"] if j.data["steps"] else "start")
        free_space(j, say)  # before any write: the failure may be a full disk
        j.mark(failed, "failed")
        say(f"Step {failed!r} failed: {_describe(exc)}. Restoring the wiki to {inst.core_version}...")
        try:
            undo(j, say, db=inst.db)
        except Exception as undo_exc:  # the worst case: say exactly what is where
            raise UpgradeError(
                f"Step {failed!r} of the upgrade to {stop.version} failed ({_describe(exc)}), and restoring the old "
                f"state failed too: {_describe(undo_exc)}.", details=_log_tail(log),
                hint=f"The journal {j.path} and the backup in {j.path_of('backup')} describe what is where; run "
                     "`mwrelease rollback --wiki ...` to try again.") from exc
        if isinstance(exc, MwreleaseError) and not isinstance(exc, UpgradeError):
            kind = exc
            if isinstance(kind, (IntegrityError, SourceError, ConfigError)):
                # Nothing changed on the wiki's data yet: keep the precise error kind and exit code.
                kind.message += f" The wiki was left on MediaWiki {inst.core_version}, unchanged."
                raise kind
        details = (exc.details if isinstance(exc, MwreleaseError) else []) + _log_tail(log)
        if disk_full(exc):
            raise UpgradeError(
                f"The disk filled up during step {failed!r} of the upgrade to MediaWiki {stop.version} "
                f"({_describe(exc)}). The wiki was restored to MediaWiki {inst.core_version} with its database as it "
                "was before, and is writable again.", details=details,
                hint=f"Free space on that filesystem (`mwrelease prune --wiki {wiki}` removes the old trees and backups "
                     "of earlier upgrades), then run the upgrade again.") from None
        raise UpgradeError(
            f"The upgrade to MediaWiki {stop.version} failed at step {failed!r}: {_describe(exc)}. The wiki was "
            f"restored to MediaWiki {inst.core_version} with its database as it was before, and is writable again.",
            details=details, hint=f"The full log is {log}. Fix the cause (see the log excerpt) and run the upgrade "
                                  "again.") from (exc if not isinstance(exc, KeyboardInterrupt) else None)
    finally:
        signal.signal(signal.SIGTERM, old_sigterm)


SPACE_MARGIN = 1.2  # 20% beyond the estimate: filesystem overhead, logs, update.php's temporary tables


def check_space(needs: dict[Path, int]) -> None:
    """Refuse to start when a filesystem has less free space than the upgrade will write to it."""
    by_dev: dict[int, tuple[Path, int]] = {}
    for path, need in needs.items():
        probe = path
        while not probe.exists():
            probe = probe.parent
        dev = os.stat(probe).st_dev
        prev = by_dev.get(dev, (probe, 0))
        by_dev[dev] = (prev[0], prev[1] + need)
    short = []
    for probe, need in by_dev.values():
        free = shutil.disk_usage(probe).free
        if free < need * SPACE_MARGIN:
            short.append(f"{probe}: {free / 1e6:.0f} MB free, the upgrade needs about {need * SPACE_MARGIN / 1e6:.0f} MB")
    if short:
        raise UpgradeError("Not enough disk space to upgrade safely; nothing was changed.", details=short,
                           hint="Free some space (old backups are in the state directory's backups/), or use "
                                "--state-dir on a larger filesystem, then run the upgrade again.")


def hold_reserve(state: Path) -> None:
    """Set RESERVE_BYTES aside in the state directory for the undo (see the module doc)."""
    path = state / RESERVE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, RESERVE_BYTES)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        if exc.errno != errno.ENOSPC:
            raise
        raise UpgradeError("Not enough disk space to upgrade safely; nothing was changed.",
                           details=[f"{state}: not even {RESERVE_BYTES // 2**20} MB free for the journal and the undo"],
                           hint="Free some space, or use --state-dir on a larger filesystem.") from None
    os.close(fd)


def free_space(j: Journal, say: Say) -> None:
    """Give back what the undo does not need, first: the reserve, a new tree that does not serve the wiki,
    an incomplete backup. Writes nothing."""
    (j.state_dir / RESERVE_FILE).unlink(missing_ok=True)
    wiki = Path(j.data["wiki"])
    new_tree = j.path_of("new_tree")
    serving = os.path.realpath(wiki) if wiki.exists() else None
    if new_tree and Path(new_tree).is_dir() and os.path.realpath(new_tree) != serving and not j.reached("switch"):
        shutil.rmtree(new_tree, ignore_errors=True)
        say(f"  removed the new tree {new_tree}")
    step = j.step("backup")
    backup = j.path_of("backup")
    if backup and step and step["status"] != "done" and Path(backup).is_dir():
        shutil.rmtree(backup, ignore_errors=True)  # incomplete: the database was not changed after it


def disk_full(exc: BaseException) -> bool:
    """ENOSPC, also as SQLite reports it."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "database or disk is full" in str(seen) or "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MwreleaseError):
        return exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


def _log_tail(log: Path, n: int = 25) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


# --- steps -------------------------------------------------------------------------------------

def _new_tree_path(wiki: Path, inst: Installation, version: str, jid: str) -> Path:
    if inst.layout == "symlink":
        base = inst.tree.parent / f"mediawiki-{version}"
    else:
        base = wiki.parent / f".{wiki.name}.mwrelease-new-{version}"
    return base if not base.exists() else base.with_name(base.name + f"-{jid}")


def readonly_on(tree: Path, reason: str) -> None:
    (tree / READONLY_FILE).write_text(f"<?php\n// Written by mwrelease upgrade; removed when it ends.\n"
                                      f"$wgReadOnly = {_php_str(reason)};\n")
    ls = tree / "LocalSettings.php"
    text = ls.read_text()
    if READONLY_MARK in text:
        return
    sep = "" if text.endswith("\n") else "\n"
    # Guarded by is_file(): deleting the file ends read-only mode at once, even where opcache never
    # revalidates LocalSettings.php; the line itself is then removed at leisure.
    path = f"__DIR__ . '/{READONLY_FILE}'"
    line = f"if ( is_file( {path} ) ) {{ require {path}; }} {READONLY_MARK}\n"
    if text.rstrip().endswith("?>"):
        line = f"<?php {line.rstrip()}\n?>\n"
    _replace_text(ls, text + sep + line)


def readonly_off(tree: Path) -> None:
    (tree / READONLY_FILE).unlink(missing_ok=True)  # writable from the next request on
    ls = tree / "LocalSettings.php"
    if ls.exists():
        text = ls.read_text()
        if READONLY_MARK in text:
            kept = [ln for ln in text.splitlines(keepends=True) if READONLY_MARK not in ln]
            # The "?>" we may have added after our line goes too.
            if text.rstrip().endswith(f"{READONLY_MARK}\n?>") and kept and kept[-1].strip() == "?>":
                kept.pop()
            _replace_text(ls, "".join(kept))


def _php_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.mwrelease-tmp")
    tmp.write_text(text)
    try:
        st = path.stat()
        os.chmod(tmp, st.st_mode & 0o7777)
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:
        pass
    os.replace(tmp, path)


def stage_admin_files(inst: Installation, new_tree: Path, *, disabled: list[str], upload_dir: Path) -> list[str]:
    """Carry over everything of the admin's that the release does not ship; never overwrite release files."""
    old = inst.tree
    copied: list[str] = []
    # LocalSettings.php without our read-only line, with incompatible extensions commented out.
    text = (old / "LocalSettings.php").read_text()
    text = "".join(ln for ln in text.splitlines(keepends=True) if READONLY_MARK not in ln)
    for name in disabled:
        text = re.sub(rf"^(\s*wfLoad(?:Extension|Skin)\s*\(\s*['\"]{re.escape(name)}['\"].*)$",
                      rf"# \1 {DISABLED_MARK} (incompatible with the new core)", text, flags=re.M)
    (new_tree / "LocalSettings.php").write_text(text)
    shutil.copystat(old / "LocalSettings.php", new_tree / "LocalSettings.php")
    _copy_owner(old / "LocalSettings.php", new_tree / "LocalSettings.php")
    copied.append("LocalSettings.php")
    old_release = inst.installed_manifest.file_map() if inst.installed_manifest else None
    for src in sorted(old.iterdir()):
        name = src.name
        if name in ("LocalSettings.php", READONLY_FILE, ".mwrelease") or (new_tree / name).exists() and name not in ("extensions", "skins"):
            continue
        if name in ("extensions", "skins"):
            for sub in sorted(p for p in src.iterdir() if p.is_dir() or p.is_symlink()):
                if not (new_tree / name / sub.name).exists():
                    _copy_any(sub, new_tree / name / sub.name, hardlink=False)
                    copied.append(f"{name}/{sub.name}")
            continue
        if name == "cache":
            # Caches are rebuilt; a stale localisation cache of the old version must not be carried over.
            (new_tree / name).mkdir(exist_ok=True)
            _copy_owner(src, new_tree / name)
            copied.append("cache/ (empty)")
            continue
        if old_release is not None and name in old_release and name not in ADMIN_ENTRIES:
            continue  # a core file of the old release that the new release dropped
        _copy_any(src, new_tree / name, hardlink=(src.resolve() == upload_dir.resolve()))
        copied.append(name + ("/" if src.is_dir() else ""))
    return copied


def _copy_any(src: Path, dest: Path, *, hardlink: bool) -> None:
    if src.is_symlink():
        dest.symlink_to(os.readlink(src))
        return
    if src.is_dir():
        def link_or_copy(s: str, d: str) -> object:
            # Uploaded files are never modified in place by MediaWiki (new versions get new names, old
            # ones move to archive/), so hard links are safe and make this step take seconds.
            if hardlink:
                try:
                    os.link(s, d)
                    return d
                except OSError:
                    pass
            return shutil.copy2(s, d)
        shutil.copytree(src, dest, symlinks=True, copy_function=link_or_copy)
        for dirpath, dirnames, filenames in os.walk(dest):
            rel = os.path.relpath(dirpath, dest)
            _copy_owner(src / rel, Path(dirpath))
            if not hardlink:
                for f in filenames:
                    _copy_owner(src / rel / f, Path(dirpath, f))
    else:
        shutil.copy2(src, dest)
        _copy_owner(src, dest)


def _copy_owner(src: Path, dest: Path) -> None:
    try:
        st = src.lstat()
        os.lchown(dest, st.st_uid, st.st_gid)
    except OSError:
        pass


def update_command(tree: Path, version: str, php: str) -> list[str]:
    # MediaWiki 1.40+ runs maintenance scripts through maintenance/run.php; update.php still works on 1.43.
    if line_key(line_of(version)) >= (1, 40) and (tree / "maintenance/run.php").is_file():
        return [php, "maintenance/run.php", "update", "--quick"]
    return [php, "maintenance/update.php", "--quick"]


def run_update(tree: Path, version: str, *, php: str, log: Path, journal: Journal, timeout: float) -> str:
    cmd = update_command(tree, version, php)
    with open(log, "a") as fh:
        fh.write(f"+ (cd {tree} && {' '.join(cmd)})\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=tree, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "MW_INSTALL_PATH": str(tree)}, start_new_session=True)
        # If we are killed, the next run must stop this update.php before restoring the database.
        journal.data["update_pid"] = proc.pid
        journal.save()
        _fault("update", version)
        try:
            rc = proc.wait(timeout=timeout)
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
    if rc != 0:
        raise UpgradeError(f"update.php exited with code {rc}.")
    return " ".join(cmd[1:])


def reload_server(command: str | None, log: Path, *, php: str | None = None) -> None:
    """Run the admin's reload command (PHP keeps APCu and opcache across requests: a switched tree needs it),
    with the PHP that is to serve the wiki from now on in $MWRELEASE_PHP."""
    if not command:
        return
    env = {**os.environ, "MWRELEASE_PHP": php} if php else None
    res = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300, env=env)
    with open(log, "a") as fh:
        fh.write(f"+ {command}\n{res.stdout}{res.stderr}")
    if res.returncode != 0:
        raise UpgradeError(f"The reload command `{command}` exited with {res.returncode}.",
                           details=(res.stdout + res.stderr).strip().splitlines()[-10:])


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def switch(j: Journal, wiki: Path, inst: Installation, new_tree: Path) -> None:
    if inst.layout == "symlink":
        j.set_path("link_target_before", os.readlink(wiki))
        _point_symlink(wiki, str(new_tree))
        return
    aside = wiki.with_name(f"{wiki.name}.mwrelease-old-{inst.core_version}")
    if aside.exists():
        aside = aside.with_name(aside.name + f"-{j.id}")
    j.set_path("aside", str(aside))
    j.data["paths"]["old_ino"] = os.stat(wiki).st_ino
    j.data["paths"]["new_ino"] = os.stat(new_tree).st_ino
    j.save()
    # Two renames; between them the wiki path is briefly absent (microseconds). The journal has both names.
    os.rename(wiki, aside)
    _fault("switch-between-renames", j.data["to"])
    os.rename(new_tree, wiki)


def _point_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.mwrelease-link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)  # rename(2): atomic, the path always points somewhere


def switch_back(j: Journal, wiki: Path) -> str:
    """Undo ``switch`` from whatever state the journal and the file system show; returns what was done."""
    paths = j.data["paths"]
    if j.data["layout"] == "symlink":
        before = paths.get("link_target_before")
        if before and wiki.is_symlink() and os.readlink(wiki) != before:
            _point_symlink(wiki, before)
            return f"{wiki} points to {before} again"
        return "symlink already on the old tree"
    aside = Path(paths["aside"]) if paths.get("aside") else None
    new_tree = Path(paths["new_tree"])
    if aside is None or not aside.exists():
        return "the old tree was never moved"
    if wiki.exists():
        if os.stat(wiki).st_ino == paths.get("old_ino"):
            return "the old tree is in place"
        if new_tree.exists():
            raise UpgradeError(f"Both {wiki} and {new_tree} exist while the old tree is at {aside}; not guessing.")
        os.rename(wiki, new_tree)
    os.rename(aside, wiki)
    return f"{wiki} is the old tree again"


def check_health(opts: Options, inst: Installation, wiki: Path, version: str, expected: list[str], *,
                 php: str) -> Health:
    url = opts.url or inst.server_url
    if url and not opts.skip_http:
        return http_check(url, expect_version=version, expect_extensions=expected)
    return cli_check(eval_settings(wiki.resolve(), php=php), expect_version=version, expect_extensions=expected)


def _upload_dir_after(inst: Installation, wiki: Path) -> Path:
    up = Path(inst.upload_dir)
    try:
        rel = up.resolve().relative_to(inst.tree)
    except ValueError:
        return up  # outside the tree: unchanged
    return wiki.resolve() / rel


# --- undo, recovery, rollback ------------------------------------------------------------------

def undo(j: Journal, say: Say, *, db: Any = None, php: str = "php") -> None:
    """Return the wiki to its state before this journal's upgrade, using the journal alone."""
    wiki = Path(j.data["wiki"])
    php = (j.data.get("php") or {}).get("before") or php
    pid = j.data.get("update_pid")
    if pid:
        _kill_group(int(pid))
    free_space(j, say)
    if j.reached("switch"):
        say("  " + switch_back(j, wiki))
        j.mark("switch", "undone")
    if j.reached("update") or j.reached("stage"):
        bdir = Path(j.path_of("backup") or "")
        info_path = bdir / "backup.json"
        if info_path.exists():
            info = json.loads(info_path.read_text())
            if db is None or getattr(db, "type", None) != info["database"]["type"]:
                db = inspect_wiki(wiki, php=php, check_local_changes=False).db
            bk.restore_database(db, bdir / "database", info["database"], log=j.state_dir / "logs" / f"{j.id}.log")
            say(f"  database restored from {bdir}")
            j.mark("update", "undone")
    old_tree = Path(j.path_of("old_tree") or wiki)
    if j.reached("readonly"):
        readonly_off(wiki.resolve() if wiki.exists() else old_tree)
        say("  read-only mode is off")
    if j.reached("readonly") or j.reached("switch"):
        try:
            reload_server(j.data.get("reload_command"), j.state_dir / "logs" / f"{j.id}.log", php=php)
        except UpgradeError as exc:
            say(f"  warning: {exc.message}")
    new_tree = j.path_of("new_tree")
    if new_tree and Path(new_tree).exists() and Path(new_tree).resolve() != wiki.resolve():
        shutil.rmtree(new_tree, ignore_errors=True)
        say(f"  removed the new tree {new_tree}")
    j.finish("rolled-back", error="; ".join(s["name"] + " " + s["status"] for s in j.data["steps"]))


def recover(wiki: Path, state: Path, say: Say, *, php: str = "php",
            reload_command: str | None = None) -> dict[str, Any] | None:
    """If a previous run was killed mid-upgrade, roll it back now. Returns what was recovered."""
    j = Journal.load(state)
    if j is None:
        return None
    if j.data.get("state") != "running":
        j.finish(str(j.data.get("state")))
        return None
    if j.owner_alive():
        raise UpgradeError(f"Another mwrelease upgrade (pid {j.data.get('pid')}) is working on this wiki right now.",
                           hint="Wait for it to finish; if it is stuck, stop that process and run this again.")
    last = j.data["steps"][-1]["name"] if j.data["steps"] else "start"
    say(f"An earlier upgrade {j.data['from']} -> {j.data['to']} stopped during step {last!r} (journal {j.path}); "
        "rolling it back first.")
    j.data["reload_command"] = j.data.get("reload_command") or reload_command
    undo(j, say, php=php)
    return {"journal": j.id, "stopped_at": last, "action": "rolled back"}


def rollback(wiki: Path, *, state_dir: Path | None, say: Say, php: str = "php", url: str | None = None,
             skip_http: bool = False, reload_command: str | None = None) -> dict[str, Any]:
    """Undo an interrupted upgrade, or else go back to the release before the last finished upgrade."""
    wiki = Path(os.path.abspath(wiki))
    state = state_dir_for(wiki, state_dir)
    rec = recover(wiki, state, say, php=php, reload_command=reload_command)
    if rec is not None:
        return {**rec, "action": "rolled back an interrupted upgrade"}
    last = last_upgrade(load_history(state), wiki)
    if last is None:
        from mwrelease.errors import NothingToDo
        raise NothingToDo(f"There is no finished upgrade of {wiki} to roll back.",
                          hint="`mwrelease status --wiki ...` lists the upgrades and backups.")
    paths = last["paths"]
    bdir = Path(paths.get("backup") or "")
    old = Path(paths.get("aside") or paths.get("old_tree") or "")
    gone = [what for what, ok in ((f"the database backup {bdir}", (bdir / "backup.json").is_file()),
                                  (f"the old tree {old}", last["layout"] != "directory" or old.is_dir())) if not ok]
    if gone:
        pruned = f" (removed by `mwrelease prune` at {last['pruned']})" if last.get("pruned") else ""
        raise UpgradeError(f"Cannot roll back the upgrade {last['from']} -> {last['to']}: {' and '.join(gone)} "
                           f"{'is' if len(gone) == 1 else 'are'} gone{pruned}. Nothing was changed.",
                           hint="Restore from your own backups, or stay on this release.")
    info = json.loads((bdir / "backup.json").read_text())
    inst = inspect_wiki(wiki, php=php, check_local_changes=False)
    if inst.core_version != last["to"]:
        raise UpgradeError(f"The wiki is on MediaWiki {inst.core_version}, but the last upgrade went to {last['to']}; "
                           "rolling back now would restore a database that does not match. Nothing was changed.",
                           hint="`mwrelease status --wiki ...` shows the history.")
    old_php = (last.get("php") or {}).get("before") or php  # a rollback across a PHP switch switches back
    j = Journal.start(state, wiki=wiki, layout=last["layout"], from_version=inst.core_version, to_version=last["from"])
    j.data["rollback_of"] = last["id"]
    j.data["php"] = {"before": php, "after": old_php}
    log = state / "logs" / f"{j.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        j.begin("readonly")
        readonly_on(inst.tree, "This wiki is being rolled back to its previous MediaWiki release.")
        reload_server(reload_command, log, php=php)
        j.done("readonly")
        j.begin("switch")
        if last["layout"] == "symlink":
            j.set_path("link_target_before", os.readlink(wiki))
            _point_symlink(wiki, paths["old_tree"])
        else:
            parked = wiki.with_name(f"{wiki.name}.mwrelease-rolledback-{inst.core_version}")
            if parked.exists():
                parked = parked.with_name(parked.name + f"-{j.id}")
            os.rename(wiki, parked)
            os.rename(old, wiki)
            j.set_path("parked", str(parked))
        j.done("switch")
        j.begin("restore")
        bk.restore_database(inst.db, bdir / "database", info["database"], log=log)
        j.done("restore")
        readonly_off(wiki.resolve())
        reload_server(reload_command, log, php=old_php)
        j.begin("health")
        opts = Options(wiki=wiki, channel="", php=old_php, url=url, skip_http=skip_http)
        old_inst = inspect_wiki(wiki, php=old_php, check_local_changes=False)
        health = check_health(opts, old_inst, wiki, last["from"], [e.name for e in old_inst.loaded], php=old_php)
        j.done("health", "; ".join(health.checks + health.problems))
        j.finish("done", extra={"kind": "rollback", "total_seconds": round(time.monotonic() - t0, 2)})
    except BaseException as exc:
        j.finish("failed", error=_describe(exc))
        raise UpgradeError(f"Rolling back to MediaWiki {last['from']} failed: {_describe(exc)}.", details=_log_tail(log),
                           hint=f"The backup is in {bdir}; the journal history in {state} says what was done.") from None
    say(f"{wiki} is on MediaWiki {last['from']} again, with the database as it was before the upgrade "
        f"({'health check passed' if health.ok else 'health check: ' + '; '.join(health.problems)}).")
    return {"action": "rolled back the last upgrade", "upgrade": last["id"], "version": last["from"],
            "health": health.to_json(), "note": "edits made after that upgrade are not in the restored database"}


def last_upgrade(history: list[dict[str, Any]], wiki: Path) -> dict[str, Any] | None:
    """What `rollback` undoes: the newest upgrade still standing. Rolling back twice goes back two upgrades
    (1.43 -> 1.39 -> 1.35 after a chain)."""
    standing = standing_upgrades(history, str(wiki))
    return standing[-1] if standing else None


def status(wiki: Path, *, state_dir: Path | None, channel: str | None, php: str = "php") -> dict[str, Any]:
    wiki = Path(os.path.abspath(wiki))
    state = state_dir_for(wiki, state_dir)
    inst = inspect_wiki(wiki, php=php)
    j = Journal.load(state)
    history = [h for h in load_history(state) if h.get("wiki") == str(wiki)]
    backups = sorted(str(p) for p in (state / "backups").iterdir()) if (state / "backups").is_dir() else []
    out: dict[str, Any] = {"installation": inst.to_json(), "interrupted_upgrade": j.data if j else None,
                           "history": [{k: h.get(k) for k in ("id", "kind", "from", "to", "state", "started", "finished",
                                                              "read_only_seconds", "total_seconds", "error", "pruned")}
                                       for h in history[-10:]],
                           "backups": backups, "channel": None}
    if channel:
        idx = ChannelClient(channel).index()
        same = idx.newest(inst.core_line)
        newest = idx.newest()
        out["channel"] = {"location": channel,
                          "newest_on_line": same.version if same else None,
                          "newest": newest.version if newest else None,
                          "update_available": bool(same and same.version != inst.core_version and
                                                   _newer(same.version, inst.core_version)),
                          "newer_line_available": bool(newest and newest.line != inst.core_line and
                                                       _newer(newest.version, inst.core_version))}
    return out


def _newer(a: str, b: str) -> bool:
    from mwrelease.release.lines import version_key
    return version_key(a) > version_key(b)


__all__ = ["Options", "Outcome", "upgrade", "rollback", "status", "recover", "undo", "append_history"]
