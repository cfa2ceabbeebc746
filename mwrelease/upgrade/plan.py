"""Plan an upgrade: a pure function of what is installed, what the channel offers and what the admin asked.

Nothing here touches the disk or the network, so every rule is unit-tested without MediaWiki:
the target release, the stops on the way (MediaWiki upgrades from at most two LTS back), each
bundled extension's old -> new version, the fate of every extension the release does not ship, the
PHP check and an estimate of the read-only window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mwrelease.errors import ConfigError, ConstraintError, NothingToDo
from mwrelease.release.channel import ArtifactRef, ChannelIndex, ReleaseEntry
from mwrelease.release.lines import channel_name, line_key, line_of, version_key
from mwrelease.release.manifest import Manifest
from mwrelease.upgrade.inspect import Installation, InstalledExtension
from mwrelease.versions import satisfies

Fate = Literal["bundled", "kept", "disabled", "not-loaded"]


@dataclass(frozen=True, kw_only=True)
class ExtensionPlan:
    name: str
    kind: str
    fate: Fate
    old_version: str | None
    new_version: str | None = None
    new_ref: str | None = None
    reason: str = ""
    loaded: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "fate": self.fate, "loaded": self.loaded,
                "old_version": self.old_version, "new_version": self.new_version, "new_ref": self.new_ref,
                "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class Stop:
    version: str
    line: str
    artifact: str
    delta_from: str | None  # set when a delta artifact from the installed release is used
    php: str = "php"  # the PHP binary that runs update.php and then the wiki, from this stop on
    php_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "line": self.line, "artifact": self.artifact, "delta_from": self.delta_from,
                "php": self.php, "php_version": self.php_version}


@dataclass(frozen=True, kw_only=True)
class Plan:
    from_version: str
    target: str
    stops: tuple[Stop, ...]
    extensions: tuple[ExtensionPlan, ...]
    database: str
    estimated_read_only_seconds: int
    warnings: tuple[str, ...] = field(default=())
    php: str = "php"  # the PHP that runs the wiki before the upgrade
    php_version: str = ""
    approvals: tuple[str, ...] = ()  # per stop: who approved it (signed channel), or that nobody's approval was checked
    local_changes: tuple[str, ...] = ()  # `mwrelease verify`'s lines: files that differ from the installed release

    @property
    def switches_php(self) -> bool:
        return any(s.php != self.php for s in self.stops)

    @property
    def disabled(self) -> list[ExtensionPlan]:
        return [e for e in self.extensions if e.fate == "disabled"]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.from_version, "target": self.target, "stops": [s.to_json() for s in self.stops],
                "extensions": [e.to_json() for e in self.extensions], "database": self.database,
                "estimated_read_only_seconds": self.estimated_read_only_seconds, "warnings": list(self.warnings),
                "php": self.php, "php_version": self.php_version, "approvals": list(self.approvals),
                "local_changes": list(self.local_changes)}

    def render(self) -> str:
        lines = [f"Upgrade plan: MediaWiki {self.from_version} -> {self.target}"]
        if len(self.stops) > 1:
            lines.append("  stops: " + " -> ".join([self.from_version] + [s.version for s in self.stops])
                         + " (MediaWiki upgrades from at most two LTS releases back)")
        php = self.php
        for s in self.stops:
            how = f"delta from {s.delta_from}" if s.delta_from else "full tarball"
            lines.append(f"  {s.version}: {s.artifact} ({how})")
            if s.php != php:
                lines.append(f"    PHP switches here: {php} -> {s.php} (PHP {s.php_version}); update.php runs with it "
                             "and the reload command gets it as $MWRELEASE_PHP")
                php = s.php
        for a in self.approvals:
            lines.append(f"  release {a}")
        lines.append(f"  database: {self.database}")
        lines.append(f"  expected read-only window: about {self.estimated_read_only_seconds} s")
        lines.append("  loaded extensions and skins:")
        quiet = [e for e in self.extensions if not e.loaded and e.fate in ("bundled", "not-loaded")]
        for e in self.extensions:
            if e in quiet:
                continue
            if e.fate == "bundled":
                lines.append(f"    {e.kind} {e.name}: {e.old_version or '?'} -> {e.new_version or e.new_ref or '?'} "
                             f"(shipped with the release{', ref ' + e.new_ref if e.new_ref else ''})")
            elif e.fate == "kept":
                lines.append(f"    {e.kind} {e.name} {e.old_version or ''}: kept ({e.reason})")
            elif e.fate == "disabled":
                lines.append(f"    {e.kind} {e.name} {e.old_version or ''}: DISABLED ({e.reason})")
        if quiet:
            lines.append(f"  not loaded (updated or copied, no effect on the wiki): {', '.join(e.name for e in quiet)}")
        if self.local_changes:
            lines.append(f"  local changes ({len(self.local_changes)} file(s) differ from the installed release; "
                         "the new tree does not carry them, the old tree keeps them):")
            lines += [f"    {c}" for c in self.local_changes]
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def choose_target(inst_version: str, index: ChannelIndex, *, to: str | None, line: str | None) -> ReleaseEntry:
    if to and line:
        raise ConfigError("Give either --to VERSION or --line LINE, not both.")
    current = version_key(inst_version)
    if to:
        target = index.find(to)
        if target is None:
            known = ", ".join(r.version for r in index.releases) or "none"
            raise ConfigError(f"The channel has no release {to} (it has: {known}).",
                              hint="Pick one of the listed versions, or check --channel.")
    else:
        want_line = line or line_of(inst_version)
        if want_line.endswith("-lts"):
            want_line = want_line[:-4]
        target = index.newest(want_line)
        if target is None:
            lines = sorted({channel_name(r.line) for r in index.releases}, key=lambda n: line_key(n.split("-")[0]))
            raise NothingToDo(f"The channel has no release on the {want_line} line (it has: {', '.join(lines) or 'none'}).",
                              hint="Choose a line with --line, e.g. --line 1.43.")
    if version_key(target.version) == current:
        newer = [r for r in index.releases if version_key(r.version) > current]
        hint = (f"A newer release line exists: `mwrelease upgrade --line {newer[-1].line}` upgrades to {newer[-1].version}."
                if newer else "The wiki is on the newest release the channel offers.")
        raise NothingToDo(f"The wiki is already on MediaWiki {inst_version}.", hint=hint)
    if version_key(target.version) < current:
        raise ConfigError(f"{target.version} is older than the installed {inst_version}; upgrade does not downgrade.",
                          hint="To go back to the release before the last upgrade, run `mwrelease rollback`.")
    return target


def installed_is_pristine(inst: Installation) -> bool:
    """The installed tree is exactly a known release's (an installed manifest, no local changes)."""
    m = inst.installed_manifest
    return m is not None and m.core_version == inst.core_version and not inst.local_changes


def choose_artifact(rel: ReleaseEntry, installed_version: str, *, pristine: bool) -> ArtifactRef:
    """The delta artifact when it goes from exactly the installed version and the installed tree is that
    release unchanged (a delta only carries changed files; the rest is copied from the installed tree);
    otherwise the full tarball."""
    if pristine:
        delta = rel.delta_from(installed_version)
        if delta is not None:
            return delta
    return rel.full()


def find_stops(inst_version: str, target: ReleaseEntry, index: ChannelIndex) -> list[ReleaseEntry]:
    """Releases to install in order, ending with target; intermediate stops are the newest reachable ones."""
    stops = [target]
    current_line = line_of(inst_version)
    while current_line not in stops[0].upgrades_from:
        nxt = stops[0]
        candidates = [r for r in index.releases
                      if version_key(inst_version) < version_key(r.version) < version_key(nxt.version)
                      and r.line in nxt.upgrades_from and r.line != nxt.line]
        if not candidates:
            raise ConfigError(
                f"MediaWiki {nxt.version} cannot upgrade a {current_line} wiki directly (it upgrades from "
                f"{', '.join(nxt.upgrades_from)}), and the channel has no intermediate release to stop at.",
                hint=f"Upgrade to a {nxt.upgrades_from[0]} release first (from another channel or by hand).")
        stops.insert(0, candidates[-1])
    return stops


def choose_php(release: ReleaseEntry, current: str, php_versions: dict[str, str], *, previous: str | None) -> str:
    """The PHP binary for a stop: the one already running the wiki if the release accepts it, else the first
    of the others (in the order the admin gave them) that it accepts."""
    if not release.php or _php_ok(php_versions.get(current, ""), release.php):
        return current
    accepted = [b for b, v in php_versions.items() if _php_ok(v, release.php)]
    if accepted:
        return accepted[0]
    have = ", ".join(f"{b} is PHP {v}" for b, v in php_versions.items())
    hint = ("Install a PHP that it accepts beside the current one and name both, oldest first (e.g. --php php7.4 "
            "--php php8.2): each stop runs with the first PHP its release accepts, and --reload-command gets it as "
            "$MWRELEASE_PHP to switch the web server. Or upgrade PHP first and run the upgrade again.")
    if previous:
        hint += f" `--to {previous}` stops at the intermediate release, which this PHP runs."
    raise ConfigError(f"MediaWiki {release.version} needs PHP {release.php}, and no PHP given runs it ({have}).",
                      hint=hint)


@dataclass(frozen=True, kw_only=True)
class Route:
    """The target release and the releases to install on the way, in order, ending with the target."""

    target: ReleaseEntry
    releases: tuple[ReleaseEntry, ...]


def find_route(inst_version: str, index: ChannelIndex, *, to: str | None, line: str | None) -> Route:
    target = choose_target(inst_version, index, to=to, line=line)
    return Route(target=target, releases=tuple(find_stops(inst_version, target, index)))


def make_plan(inst: Installation, index: ChannelIndex, manifests: dict[str, Manifest], *, to: str | None = None,
              line: str | None = None, disable_incompatible: bool = False,
              database_bytes: int = 0, php_versions: dict[str, str] | None = None,
              route: Route | None = None) -> Plan:
    """The plan; ``manifests`` maps each stop's version to its (verified) manifest; ``php_versions`` maps
    each PHP binary the admin named to its version, the one running the wiki first (default: "php" is
    the installation's PHP).

    Raises ConfigError when an extension the release does not ship cannot run on a stop's core, unless
    ``disable_incompatible``, or when no PHP given runs a stop's release; NothingToDo when already current.
    ``route`` is ``find_route``'s answer when the caller has it already (it fetched the stops' manifests).
    """
    route = route or find_route(inst.core_version, index, to=to, line=line)
    target, stops_rel = route.target, route.releases
    warnings = list(inst.warnings)
    php_versions = php_versions or {"php": inst.php_version}
    current_php = php = next(iter(php_versions))
    stops: list[Stop] = []
    prev = inst.core_version
    for r in stops_rel:
        php = choose_php(r, php, php_versions, previous=stops[-1].version if stops else None)
        art = choose_artifact(r, prev, pristine=prev == inst.core_version and installed_is_pristine(inst))
        stops.append(Stop(version=r.version, line=r.line, artifact=art.file, delta_from=art.delta_from, php=php,
                          php_version=php_versions.get(php, "")))
        prev = r.version
        if r.databases and inst.db.type not in r.databases and _db_alias(inst.db.type) not in r.databases:
            warnings.append(f"release {r.version} was tested on {', '.join(r.databases)}, not on {inst.db.type}")
    final = manifests.get(target.version)
    if final is None:
        raise ConfigError(f"Internal: the manifest of {target.version} was not fetched before planning.")
    shipped = {(c.kind, c.name): c for c in final.components}
    ext_plans: list[ExtensionPlan] = []
    problems: list[str] = []
    for e in inst.extensions:
        comp = shipped.get((e.kind, e.name))
        if comp is not None:
            ext_plans.append(ExtensionPlan(name=e.name, kind=e.kind, fate="bundled", old_version=e.version,
                                           new_version=comp.version, new_ref=comp.ref, loaded=e.loaded))
            continue
        if not e.loaded:
            ext_plans.append(ExtensionPlan(name=e.name, kind=e.kind, fate="not-loaded", old_version=e.version,
                                           reason="not loaded by LocalSettings.php; copied over unchanged",
                                           loaded=False))
            continue
        verdict = _compatibility(e, [s.version for s in stops])
        if verdict is None:
            reason = (f"declares requires.MediaWiki {e.requires_mediawiki!r}, which admits "
                      + ", ".join(s.version for s in stops)) if e.requires_mediawiki else \
                "declares no MediaWiki requirement; it is copied over and checked after update.php"
            if not e.requires_mediawiki:
                warnings.append(f"{e.kind} {e.name} declares no MediaWiki requirement; it may break on {target.version}")
            ext_plans.append(ExtensionPlan(name=e.name, kind=e.kind, fate="kept", old_version=e.version, reason=reason))
        elif disable_incompatible:
            ext_plans.append(ExtensionPlan(name=e.name, kind=e.kind, fate="disabled", old_version=e.version,
                                           reason=verdict + "; its load line is commented out in LocalSettings.php"))
        else:
            problems.append(f"{e.kind} {e.name} {e.version or ''}: {verdict}".replace("  ", " "))
    if problems:
        raise ConfigError(
            f"The upgrade to {target.version} stops before changing anything: {len(problems)} extension(s) or skin(s) "
            "that the release does not ship cannot run on the new core.", details=problems,
            hint="Install versions of them that support the new core, or run again with --disable-incompatible to "
                 "turn them off (their data stays in the database).")
    have = {(x.kind, x.name) for x in inst.extensions}
    for c in final.components:
        if (c.kind, c.name) not in have:
            ext_plans.append(ExtensionPlan(name=c.name, kind=c.kind, fate="bundled", old_version=None,
                                           new_version=c.version, new_ref=c.ref, reason="new in the release; not loaded",
                                           loaded=False))
    return Plan(from_version=inst.core_version, target=target.version, stops=tuple(stops),
                extensions=tuple(ext_plans), database=inst.db.type,
                estimated_read_only_seconds=estimate_read_only(len(stops), database_bytes), warnings=tuple(warnings),
                php=current_php, php_version=php_versions.get(current_php, ""), local_changes=inst.local_changes)


def _compatibility(e: InstalledExtension, versions: list[str]) -> str | None:
    """None when every stop's core satisfies the extension's requires.MediaWiki; else why not."""
    if not e.requires_mediawiki:
        return None
    try:
        bad = [v for v in versions if not satisfies(v, e.requires_mediawiki)]
    except ConstraintError as exc:
        return f"its requires.MediaWiki {e.requires_mediawiki!r} cannot be read ({exc.message})"
    if bad:
        return f"requires MediaWiki {e.requires_mediawiki}, which does not admit {', '.join(bad)}"
    return None


def _php_ok(php: str, requirement: str) -> bool:
    """Unknown versions pass: the PHP could not be asked, and update.php will say."""
    if not php:
        return True
    try:
        return satisfies(php.split("-")[0].split("+")[0], requirement)
    except ConstraintError:
        return True


def _db_alias(t: str) -> str:
    return {"mysql": "mariadb", "mariadb": "mysql", "postgres": "postgresql"}.get(t, t)


def estimate_read_only(stops: int, database_bytes: int) -> int:
    """A rough read-only window: backup at ~50 MB/s, update.php ~10 s per stop plus ~1 s per 5 MB, switch and
    health check ~5 s. (Measured 1.39 -> 1.43, SQLite: 4-7 s for 3 to 1,000 pages.)"""
    mb = database_bytes / 1e6
    return int(stops * (10 + mb / 50 + mb / 5) + 5)
