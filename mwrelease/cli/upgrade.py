"""`mwrelease upgrade`, `rollback`, `status` and `prune`: the admin's commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import csv_callback
from mwrelease.errors import ConfigError, NothingToDo, UpgradeCancelled
from mwrelease.output import Result

# Not exists=True: a missing folder is "not a wiki" (exit 3) like a folder without LocalSettings.php.
wiki_option = click.option("--wiki", required=True, type=click.Path(file_okay=False, path_type=Path),
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
                                  "$MWRELEASE_PHP names the PHP that serves the wiki from then on. Default: "
                                  "reload_command from a config file you own (/etc/mwrelease/config.toml, "
                                  "~/.config/mwrelease/config.toml), per wiki under [wikis.\"PATH\"].")


def reload_for(wiki: Path, given: str | None) -> str | None:
    """--reload-command, else the one the admin's config files give for this wiki (checked: config.py)."""
    if given is not None:
        return given
    from mwrelease.config import reload_command_for

    return reload_command_for(wiki)
unsigned_option = click.option("--allow-unsigned", is_flag=True,
                               help="Read a channel that is not signed (or not trusted with `mwrelease channel trust`) "
                                    "WITHOUT verification: whoever controls it decides what runs on the wiki. Only for "
                                    "old unsigned channels; a trusted channel is always verified.")


exit_code_option = click.option(
    "--exit-code", "exit_code", is_flag=True,
    help=f"Exit {NothingToDo.exit_code} instead of 0 when there is nothing to do (for scripts that want to know).")


def nothing_to_do(exc: NothingToDo, exit_code: bool) -> Result:
    """Nothing to do is success for cron-style commands: one clear line and exit 0 (or 10 with --exit-code)."""
    if exit_code:
        raise exc
    return Result(data={"nothing_to_do": True, "message": exc.message, "hint": exc.hint},
                  text=exc.message + (f"\n{exc.hint}" if exc.hint else ""))


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
@click.option("--discard-local-changes", is_flag=True,
              help="Upgrade even though files differ from the installed release (`mwrelease verify` lists them); "
                   "the new tree does not carry them, the old tree beside the wiki keeps them.")
@exit_code_option
@url_option
@reload_option
@click.option("--php", "php", multiple=True, default=("php",), callback=csv_callback, show_default=True,
              help="PHP binary that runs the wiki. Give it again for newer PHPs, oldest first, when a release needs "
                   "one the current PHP is not: `--php php7.4 --php php8.2` takes a 1.35 wiki through 1.39 on PHP 7.4 "
                   "to 1.43 on PHP 8.2. Each stop runs update.php with the first PHP its release accepts, and "
                   "--reload-command gets that PHP as $MWRELEASE_PHP to switch the web server.")
@state_option
@click.option("--no-http-check", is_flag=True, help="Health-check through PHP only (a wiki with no reachable URL).")
@unsigned_option
@json_option
@reporting("upgrade")
def upgrade(wiki: Path, to: str | None, line: str | None, channel: str, dry_run: bool, yes: bool,
            disable_incompatible: bool, discard_local_changes: bool, exit_code: bool, url: str | None,
            reload_command: str | None, php: tuple[str, ...], state_dir: Path | None, no_http_check: bool,
            allow_unsigned: bool) -> Result:
    """Upgrade a tarball-installed wiki to a release from a channel, with one command.

    Inspects the wiki, shows the plan (target, each extension's fate, intermediate stops, read-only
    window), then: download and verify, read-only on, back up the database and settings, stage the new
    tree beside the old one, update.php, switch, health check, read-only off. Any failure restores the
    old tree and database. A killed run is rolled back by the next `upgrade` or `rollback`.

    Files that differ from the installed release (`mwrelease verify`) are listed in the plan, and the
    upgrade refuses to overwrite them (exit 3) unless --discard-local-changes.

    \b
    A signed channel is verified with TUF against the anchor recorded by `mwrelease channel trust`
    (K SIG members' approval, expiry, rollback, every file's length and sha256); the plan names who approved.

    \b
    Exit codes: 0 upgraded, plan shown, or already current (10 with --exit-code); 3 not a wiki, bad
    option, an incompatible extension or local changes (nothing changed); 4 channel unreachable (nothing
    changed); 8 the channel or an artifact does not verify, or the channel is not trusted yet (nothing
    changed); 9 a step failed and the wiki was restored to its old version; 11 cancelled at the confirmation
    prompt (nothing changed); 12 another mwrelease run holds this wiki's lock; 130 interrupted.
    """
    from mwrelease.upgrade.execute import Options, upgrade as do_upgrade
    from mwrelease.upgrade.plan import Plan

    def confirm(plan: Plan) -> bool:
        _say(plan.render())
        return confirmed("Proceed with the upgrade?", yes, "upgrade")

    opts = Options(wiki=wiki, channel=channel, to=to, line=line, url=url, php=php[0], newer_php=tuple(php[1:]),
                   state_dir=state_dir,
                   disable_incompatible=disable_incompatible, discard_local_changes=discard_local_changes,
                   dry_run=dry_run, skip_http=no_http_check, reload_command=reload_for(wiki, reload_command),
                   allow_unsigned=allow_unsigned)
    try:
        outcome = do_upgrade(opts, say=_say, confirm=confirm, progress=_progress)
    except NothingToDo as exc:
        return nothing_to_do(exc, exit_code)
    if dry_run:
        refused = ("\n(upgrade refuses to overwrite the local changes without --discard-local-changes)"
                   if outcome.plan.local_changes and not discard_local_changes else "")
        return Result(data=outcome.to_json(),
                      text=outcome.plan.render() + refused + "\n(dry run: nothing was changed)")
    text = "\n".join(f"upgraded to {s['version']}: read-only {s['read_only_seconds']} s, total {s['total_seconds']} s, "
                     f"update.php {s['update_seconds']} s; old tree kept at {s['old_tree']}, backup {s['backup']}"
                     for s in outcome.stops)
    return Result(data=outcome.to_json(), text=text)


@click.command("rollback")
@click.option("--wiki", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The wiki's directory (it may be missing if an upgrade was killed mid-switch).")
@click.option("--dry-run", is_flag=True, help="Show what would be restored and what would be lost; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@url_option
@reload_option
@php_option
@state_option
@click.option("--no-http-check", is_flag=True, help="Health-check through PHP only.")
@json_option
@reporting("rollback")
def rollback(wiki: Path, dry_run: bool, yes: bool, url: str | None, reload_command: str | None, php: str,
             state_dir: Path | None, no_http_check: bool) -> Result:
    """Undo an interrupted upgrade, or return to the release before the last upgrade (old tree and
    database backup). Shows first what it restores and what it loses (the revisions saved since the
    backup, counted in the wiki's database), then asks.

    \b
    Exit codes: 0 rolled back (or plan shown, with --dry-run); 3 not a wiki, the state directory is not
    private to you, or no terminal to ask on and no --yes; 9 the rollback or its health check failed
    (see the message); 10 nothing to roll back; 11 cancelled at the prompt; 12 another mwrelease run
    holds this wiki's lock.
    """
    from mwrelease.upgrade.rollback import rollback as do_rollback
    from mwrelease.upgrade.rollback_plan import preview_rollback

    plan = preview_rollback(wiki, state_dir=state_dir, php=php)
    reload_command = reload_for(wiki, reload_command)  # before anything changes: a refused config stops here
    if dry_run:
        return Result(data={"plan": plan.to_json(), "done": False},
                      text=plan.render() + "\n(dry run: nothing was changed)")
    _say(plan.render())
    # Undoing an interrupted run loses nothing (the wiki was read-only), and the next `upgrade` would do
    # it unasked: no question. Going back past a finished upgrade loses edits: ask.
    if plan.action == "rollback" and not confirmed("Roll back?", yes, "rollback"):
        raise UpgradeCancelled("Rollback cancelled; nothing was changed.")
    out = do_rollback(wiki, state_dir=state_dir, say=_say, php=php, url=url, skip_http=no_http_check,
                      reload_command=reload_command)
    return Result(data={**out, "plan": plan.to_json(), "done": True}, text=f"{out['action']}")


def confirmed(question: str, yes: bool, what: str) -> bool:
    """--yes, or the admin's answer on a terminal; without a terminal and --yes, a clear refusal (exit 3)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(f"The {what} needs confirmation, and there is no terminal to ask on; nothing was changed.",
                          hint="Run it again with --yes (after --dry-run to see what it does).")
    return click.confirm(question, default=False, err=True)


@click.command("status")
@wiki_option
@click.option("--channel", help="Also say whether the channel has a newer release.")
@php_option
@state_option
@unsigned_option
@json_option
@reporting("status")
def status(wiki: Path, channel: str | None, php: str, state_dir: Path | None, allow_unsigned: bool) -> Result:
    """Show the wiki's version, extensions, last upgrades and backups, and newer releases."""
    from mwrelease.upgrade.status import status as do_status

    data = do_status(wiki, state_dir=state_dir, channel=channel, php=php, allow_unsigned=allow_unsigned, warn=_say)
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
    if c and not c.get("signed", True):
        out.append("  channel: UNSIGNED, read without verification (--allow-unsigned)")
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
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal, e.g. cron).")
@exit_code_option
@state_option
@json_option
@reporting("prune")
def prune(wiki: Path, keep: int, dry_run: bool, yes: bool, exit_code: bool, state_dir: Path | None) -> Result:
    """Remove what earlier upgrades left behind: old trees beside the wiki, database backups, trees
    parked by rollbacks, unpacked trees of failed runs and downloaded artifacts. The newest upgrade's old
    tree and backup stay (--keep), so `mwrelease rollback` still works. Shows what it removes, then asks.
    Refuses while an upgrade runs or was interrupted.

    \b
    Exit codes: 0 removed, listed (--dry-run) or nothing to prune (10 with --exit-code); 3 not a wiki,
    an upgrade is running or was interrupted, or no terminal to ask on and no --yes (nothing removed);
    11 cancelled at the prompt; 12 another mwrelease run holds this wiki's lock.
    """
    from mwrelease.upgrade.prune import prune as do_prune

    def confirm(removals: list[dict[str, Any]]) -> bool:
        _say(_render_prune({"dry_run": True, "removals": removals, "skipped": [], "kept": [],
                            "bytes_freed": sum(r["bytes"] for r in removals)}).rsplit("\n", 1)[0])
        return confirmed("Remove these?", yes, "prune")

    try:
        data = do_prune(wiki, keep=keep, state_dir=state_dir, dry_run=dry_run, confirm=confirm)
    except NothingToDo as exc:
        return nothing_to_do(exc, exit_code)
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
