"""Carry out an upgrade: recover a killed run, plan once, confirm, then one journaled transaction per stop.

1.35 -> 1.39 -> 1.43 is two stops, each its own transaction (``stop.run_stop``: the steps, and the undo on
any failure). The rooms beside this one: ``settings`` (LocalSettings.php: read-only line, staging),
``switch`` (the tree switch, also used by rollback), ``undo`` (undo and recovery from the journal alone),
``space`` (free-space checks and the undo's reserve), ``processes`` (update.php, the reload command),
``rollback`` and ``status`` (the other admin commands).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from mwrelease.errors import ConfigError, UpgradeCancelled
from mwrelease.release.channel import ChannelIndex
from mwrelease.trust.client import ChannelReader, approval_note, open_channel
from mwrelease.upgrade import backup as bk
from mwrelease.upgrade.inspect import Installation, adopt_release_manifest, inspect_wiki, php_version
from mwrelease.upgrade.journal import Journal
from mwrelease.upgrade.plan import Plan, find_route, make_plan
from mwrelease.upgrade.settings import READONLY_FILE
from mwrelease.upgrade.statedir import open_state, state_dir_for, wiki_lock
from mwrelease.upgrade.stop import Progress, StopRun, run_stop
from mwrelease.upgrade.undo import recover

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
    discard_local_changes: bool = False  # upgrade even though files differ from the installed release
    dry_run: bool = False
    skip_http: bool = False
    update_timeout: float = 3600.0
    reload_command: str | None = None  # e.g. "systemctl reload php8.2-fpm": run after every switch
    allow_unsigned: bool = False  # read a channel nobody trusted without verification (loudly warned)


@dataclass(kw_only=True)
class Outcome:
    plan: Plan
    done: bool
    stops: list[dict[str, Any]] = field(default_factory=list)
    recovered: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "done": self.done, "stops": self.stops, "recovered": self.recovered}


@dataclass(frozen=True, kw_only=True)
class Prepared:
    inst: Installation
    plan: Plan
    client: ChannelReader
    index: ChannelIndex
    recovered: dict[str, Any] | None


def prepare(opts: Options, say: Say) -> Prepared:
    """Recover from a killed run, inspect, read the channel, plan. Changes nothing else."""
    state = state_dir_for(opts.wiki, opts.state_dir)
    recovered = recover(opts.wiki, state, say, php=opts.php, reload_command=opts.reload_command) \
        if not opts.dry_run else None
    inst = inspect_wiki(opts.wiki, php=opts.php)
    if inst.read_only and READONLY_FILE not in (inst.tree / "LocalSettings.php").read_text(errors="replace"):
        say(f"note: the wiki is read-only by its own setting ({inst.read_only})")
    # A trusted (signed) channel is read through TUF: every file length- and hash-checked against the targets
    # metadata K SIG members signed. An unsigned or untrusted one is refused, unless --allow-unsigned.
    client = open_channel(opts.channel, allow_unsigned=opts.allow_unsigned, warn=say)
    index = client.index()
    # The target and the stops are chosen once; the plan needs each stop's manifest (components).
    route = find_route(inst.core_version, index, to=opts.to, line=opts.line)
    manifests = {r.version: client.manifest(r.manifest_file, r.manifest_sha256) for r in route.releases}
    installed_rel = index.find(inst.core_version)
    if inst.installed_manifest is None and installed_rel is not None:
        # Unpacked by hand (from this channel's tarball?): local changes against that release, and the delta
        # applies when there are none.
        inst = adopt_release_manifest(inst, client.manifest(installed_rel.manifest_file, installed_rel.manifest_sha256))
    elif inst.installed_manifest is None:
        say(f"note: {opts.wiki} was not installed by mwrelease and the channel has no release {inst.core_version} "
            "to compare it with, so local changes to core files cannot be found (the old tree is kept beside the wiki)")
    plan = make_plan(inst, index, manifests, route=route, disable_incompatible=opts.disable_incompatible,
                     database_bytes=bk.database_size(inst.db), php_versions=php_versions(opts, inst))
    plan = replace(plan, approvals=tuple(approval_note(client, s.version, s.artifact)["text"] for s in plan.stops))
    if plan.switches_php and not opts.reload_command and not opts.dry_run:
        switch = next(s for s in plan.stops if s.php != opts.php)
        raise ConfigError(f"MediaWiki {switch.version} runs on {switch.php} (PHP {switch.php_version}), not on the "
                          f"{opts.php} that serves the wiki now, and without --reload-command mwrelease cannot switch "
                          "the web server over; nothing was changed.",
                          hint="Pass --reload-command with a script that points the web server (php-fpm pool, Apache "
                               "module) at $MWRELEASE_PHP and reloads it; it also runs with the old PHP when an "
                               "upgrade is rolled back.")
    if plan.local_changes and not opts.discard_local_changes and not opts.dry_run:
        raise ConfigError(f"{len(plan.local_changes)} file(s) of {opts.wiki} differ from the installed release, and the "
                          "upgrade would replace them with the new release's; nothing was changed.",
                          details=list(plan.local_changes[:50]) + (
                              [f"... and {len(plan.local_changes) - 50} more"] if len(plan.local_changes) > 50 else []),
                          hint="`mwrelease verify --wiki ...` lists them. Save what you need (the old tree is kept "
                               "beside the wiki after the upgrade, too) and run again with --discard-local-changes, "
                               "or move your own code into an extension.")
    return Prepared(inst=inst, plan=plan, client=client, index=index, recovered=recovered)


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


def upgrade(opts: Options, *, say: Say, confirm: Callable[[Plan], bool], progress: Progress | None = None) -> Outcome:
    """The whole run holds the wiki's lock: a second upgrade, rollback or prune of this wiki gets WikiLocked."""
    state = open_state(opts.wiki, opts.state_dir, say=say, create=not opts.dry_run)
    with wiki_lock(state, opts.wiki, take=not opts.dry_run):
        return _upgrade(replace(opts, state_dir=state), say=say, confirm=confirm, progress=progress)


def _upgrade(opts: Options, *, say: Say, confirm: Callable[[Plan], bool], progress: Progress | None) -> Outcome:
    p = prepare(opts, say)
    if opts.dry_run:
        return Outcome(plan=p.plan, done=False, recovered=p.recovered)
    if not confirm(p.plan):
        raise UpgradeCancelled("Upgrade cancelled; nothing was changed.")
    state = state_dir_for(opts.wiki, opts.state_dir)
    wiki = Path(os.path.abspath(opts.wiki))
    inst = p.inst
    results: list[dict[str, Any]] = []
    php_before = opts.php
    for i, stop in enumerate(p.plan.stops):
        if i > 0:
            inst = inspect_wiki(opts.wiki, php=php_before)
        rel = p.index.find(stop.version)
        assert rel is not None
        j = Journal.start(state, wiki=wiki, layout=inst.layout, from_version=inst.core_version,
                          to_version=stop.version)
        j.data["php"] = {"before": php_before, "after": stop.php}
        log = state / "logs" / f"{j.id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        results.append(run_stop(StopRun(
            stop=stop, rel=rel, inst=inst, plan=p.plan, client=p.client, state=state, wiki=wiki, journal=j, log=log,
            say=say, progress=progress, php_before=php_before, reload_command=opts.reload_command,
            update_timeout=opts.update_timeout, url=opts.url, skip_http=opts.skip_http, t_start=time.monotonic())))
        php_before = stop.php
    return Outcome(plan=p.plan, done=True, stops=results, recovered=p.recovered)


__all__ = ["Options", "Outcome", "Prepared", "prepare", "upgrade"]
