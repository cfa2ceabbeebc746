"""`mwrelease upgrade`, `rollback`, `status` and `prune`: the admin's commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from mwrelease.cli import json_option, reporting
from mwrelease.errors import ConfigError
from mwrelease.output import Result

wiki_option = click.option("--wiki", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                           help="The wiki's directory (holding LocalSettings.php), or a symlink to it.")
state_option = click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                            help="Journal, backups and downloads, private to you (default: "
                                 "/var/lib/mwrelease/<wiki-id> for root, $XDG_STATE_HOME/mwrelease/<wiki-id> "
                                 "otherwise).")
php_option = click.option("--php", default="php", show_default=True, help="PHP binary that runs the wiki.")
url_option = click.option("--url", help="The wiki's base URL for the health check (default: $wgServer$wgScriptPath).")
reload_option = click.option("--reload-command", metavar="CMD",
                             help="Shell command run after the switch (and after a switch back), e.g. "
                                  "'systemctl reload php8.2-fpm': PHP keeps APCu and opcache across requests. "
                                  "$MWRELEASE_PHP names the PHP that serves the wiki from then on.")


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _progress(label: str, total: int) -> Callable[[int], None]:
    if not sys.stderr.isatty():
        _say(f"{label} ...")
        return lambda n: None
    bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=False, show_percent=True)
    bar.__enter__()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        bar.update(n)
        if done[0] >= total:
            bar.__exit__(None, None, None)
    return tick


@click.command("upgrade")
@wiki_option
@click.option("--to", "to", metavar="VERSION", help="Upgrade to this release (default: newest of the wiki's line).")
@click.option("--line", metavar="LINE", help="Upgrade to the newest release of this line, e.g. 1.43 or 1.43-lts.")
@click.option("--channel", required=True, help="Release channel: a directory, file:// or https:// URL.")
@click.option("--dry-run", is_flag=True, help="Show the plan and stop; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--disable-incompatible", is_flag=True,
              help="Turn off extensions whose declared requirements exclude the new core, instead of stopping.")
@url_option
@reload_option
@click.option("--php", "php", multiple=True, default=("php",), show_default=True,
              help="PHP binary that runs the wiki. Give it again for newer PHPs, oldest first, when a release needs "
                   "one the current PHP is not: `--php php7.4 --php php8.2` takes a 1.35 wiki through 1.39 on PHP 7.4 "
                   "to 1.43 on PHP 8.2. Each stop runs update.php with the first PHP its release accepts, and "
                   "--reload-command gets that PHP as $MWRELEASE_PHP to switch the web server.")
@state_option
@click.option("--no-http-check", is_flag=True, help="Health-check through PHP only (a wiki with no reachable URL).")
@json_option
@reporting("upgrade")
def upgrade(wiki: Path, to: str | None, line: str | None, channel: str, dry_run: bool, yes: bool,
            disable_incompatible: bool, url: str | None, reload_command: str | None, php: tuple[str, ...],
            state_dir: Path | None, no_http_check: bool) -> Result:
    """Upgrade a tarball-installed wiki to a release from a channel, with one command.

    Inspects the wiki, shows the plan (target, each extension's fate, intermediate stops, read-only
    window), then: download and verify, read-only on, back up the database and settings, stage the new
    tree beside the old one, update.php, switch, health check, read-only off. Any failure restores the
    old tree and database. A killed run is rolled back by the next `upgrade` or `rollback`.

    \b
    Exit codes: 0 upgraded (or plan shown); 3 bad option or an incompatible extension (nothing changed);
    4 channel unreachable (nothing changed); 8 artifact does not verify (nothing changed);
    9 a step failed and the wiki was restored to its old version; 10 nothing to do; 11 cancelled at the
    confirmation prompt (nothing changed); 12 another mwrelease run holds this wiki's lock; 130 interrupted.
    """
    from mwrelease.upgrade.execute import Options, upgrade as do_upgrade
    from mwrelease.upgrade.plan import Plan

    def confirm(plan: Plan) -> bool:
        _say(plan.render())
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("The upgrade needs confirmation, and there is no terminal to ask on.",
                              hint="Run it again with --yes (after --dry-run to see the plan).")
        return click.confirm("Proceed with the upgrade?", default=False, err=True)

    opts = Options(wiki=wiki, channel=channel, to=to, line=line, url=url, php=php[0], newer_php=tuple(php[1:]),
                   state_dir=state_dir,
                   disable_incompatible=disable_incompatible, dry_run=dry_run, skip_http=no_http_check,
                   reload_command=reload_command)
    outcome = do_upgrade(opts, say=_say, confirm=confirm, progress=_progress)
    if dry_run:
        return Result(data=outcome.to_json(), text=outcome.plan.render() + "\n(dry run: nothing was changed)")
    text = "\n".join(f"upgraded to {s['version']}: read-only {s['read_only_seconds']} s, total {s['total_seconds']} s, "
                     f"update.php {s['update_seconds']} s; old tree kept at {s['old_tree']}, backup {s['backup']}"
                     for s in outcome.stops)
    return Result(data=outcome.to_json(), text=text)


@click.command("rollback")
@click.option("--wiki", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The wiki's directory (it may be missing if an upgrade was killed mid-switch).")
@url_option
@reload_option
@php_option
@state_option
@click.option("--no-http-check", is_flag=True, help="Health-check through PHP only.")
@json_option
@reporting("rollback")
def rollback(wiki: Path, url: str | None, reload_command: str | None, php: str, state_dir: Path | None,
             no_http_check: bool) -> Result:
    """Undo an interrupted upgrade, or return to the release before the last upgrade (old tree and
    database backup; edits made since that upgrade are lost).

    \b
    Exit codes: 0 rolled back, 3 the state directory is not private to you, 9 the rollback or its health check
    failed (see the message), 10 nothing to roll back, 12 another mwrelease run holds this wiki's lock.
    """
    from mwrelease.upgrade.rollback import rollback as do_rollback

    out = do_rollback(wiki, state_dir=state_dir, say=_say, php=php, url=url, skip_http=no_http_check,
                      reload_command=reload_command)
    return Result(data=out, text=f"{out['action']}")


@click.command("status")
@wiki_option
@click.option("--channel", help="Also say whether the channel has a newer release.")
@php_option
@state_option
@json_option
@reporting("status")
def status(wiki: Path, channel: str | None, php: str, state_dir: Path | None) -> Result:
    """Show the wiki's version, extensions, last upgrades and backups, and newer releases."""
    from mwrelease.upgrade.status import status as do_status

    data = do_status(wiki, state_dir=state_dir, channel=channel, php=php)
    return Result(data=data, text=lambda: _render_status(data))


def _render_status(d: dict[str, Any]) -> str:
    i = d["installation"]
    out = [f"{i['wiki']}: MediaWiki {i['core_version']} (PHP {i['php_version']}, {i['database']['type']}, "
           f"{'release ' + i['installed_release'] if i['installed_release'] else 'not installed by mwrelease'})"]
    loaded = [e["name"] for e in i["extensions"] if e["loaded"]]
    out.append(f"  loaded extensions and skins: {', '.join(loaded) or 'none'}")
    if i["local_changes"]:
        out.append(f"  local changes to core: {len(i['local_changes'])} file(s)")
    if d["interrupted_upgrade"]:
        j = d["interrupted_upgrade"]
        out.append(f"  INTERRUPTED upgrade {j['from']} -> {j['to']}: run `mwrelease rollback` or `upgrade` again")
    for h in d["history"]:
        out.append(f"  {h['finished'] or h['started']}: {h.get('kind') or 'upgrade'} {h['from']} -> {h['to']}: {h['state']}"
                   + (f" (read-only {h['read_only_seconds']} s)" if h.get("read_only_seconds") else "")
                   + (" [old tree and backup pruned]" if h.get("pruned") else ""))
    for b in d["backups"]:
        out.append(f"  backup: {b}")
    c = d["channel"]
    if c:
        if c["update_available"]:
            out.append(f"  update available: {c['newest_on_line']} (mwrelease upgrade --wiki ... --channel {c['location']})")
        if c["newer_line_available"]:
            out.append(f"  newer release line: {c['newest']} (use --line)")
        if not c["update_available"] and not c["newer_line_available"]:
            out.append("  up to date with the channel")
    return "\n".join(out)


@click.command("prune")
@wiki_option
@click.option("--keep", type=click.IntRange(min=0), default=1, show_default=True, metavar="N",
              help="Keep the old tree and backup of the newest N upgrades (what `rollback` needs); 0 keeps none, "
                   "and rollback is then impossible.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed and the space it frees; remove nothing.")
@state_option
@json_option
@reporting("prune")
def prune(wiki: Path, keep: int, dry_run: bool, state_dir: Path | None) -> Result:
    """Remove what earlier upgrades left behind: old trees beside the wiki, database backups, trees
    parked by rollbacks, unpacked trees of failed runs and downloaded artifacts. The newest upgrade's old
    tree and backup stay (--keep), so `mwrelease rollback` still works. Refuses while an upgrade runs or
    was interrupted.

    \b
    Exit codes: 0 removed (or listed, with --dry-run); 3 an upgrade is running or was interrupted
    (nothing removed); 10 nothing to prune; 12 another mwrelease run holds this wiki's lock.
    """
    from mwrelease.upgrade.prune import prune as do_prune

    data = do_prune(wiki, keep=keep, state_dir=state_dir, dry_run=dry_run)
    warnings = data.pop("warnings")
    return Result(data=data, text=lambda: _render_prune(data), warnings=warnings)


def _render_prune(d: dict[str, Any]) -> str:
    from mwrelease.upgrade.prune import human

    out = [("Would remove" if d["dry_run"] else "Removed") + ":"]
    for r in d["removals"]:
        out.append(f"  {human(r['bytes']):>9}  {r['what']}: {r['path']}")
    out.append(("Would free" if d["dry_run"] else "Freed") + f" {human(d['bytes_freed'])} ({d['bytes_freed']} bytes).")
    for r in d["skipped"]:
        out.append(f"  not removed: {r['path']}: {r['skip']}")
    for k in d["kept"]:
        out.append(f"Kept for `mwrelease rollback` ({k['from']} -> {k['to']}): old tree {k['old_tree']}, "
                   f"backup {k['backup']}")
    if d["dry_run"]:
        out.append("(dry run: nothing was removed)")
    return "\n".join(out)
