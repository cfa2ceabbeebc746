"""Defaults for --wiki, --channel, --catalog and --reload-command from a config file, so an admin types them once.

Read in this order, later files winning: ``/etc/mwrelease/config.toml`` (the machine's), then
``$XDG_CONFIG_HOME/mwrelease/config.toml`` (default ``~/.config/mwrelease/config.toml``), then
``./mwrelease.toml``. Options given on the command line always win. Format (every key optional, unknown keys
are an error)::

    wiki = "/var/www/wiki"                            # relative paths are relative to the file
    channel = "https://releases.example.org/mediawiki/"
    catalog = ["core:/srv/cores/1.43", "snapshots/"]  # or one string
    reload_command = "systemctl reload php8.2-fpm"    # every wiki (upgrade, rollback and their undo)

    [wikis."/var/www/wiki"]                           # one wiki, by its path: wins over the line above
    reload_command = "systemctl reload php8.2-fpm && systemctl reload nginx"

The reload command runs as whoever runs mwrelease (often root), so a file that gives one must be the admin's
own: owned by the user running mwrelease or by root, not writable by group or others, and not reached through a
symbolic link (``check_admin_owned``); anything else is refused (ConfigError, exit 3), as the state directory is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError

KEYS = {"wiki": "wiki", "channel": "channel", "catalog": "catalogs"}  # file key -> click parameter name
RELOAD = "reload_command"
WIKIS = "wikis"  # [wikis."<path>"]: settings of one wiki (only reload_command so far)
SYSTEM_CONFIG = Path("/etc/mwrelease/config.toml")


def config_files(cwd: Path | None = None) -> list[Path]:
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [SYSTEM_CONFIG, home / "mwrelease" / "config.toml", (cwd or Path.cwd()) / "mwrelease.toml"]


def _read(f: Path) -> dict[str, Any]:
    import tomllib  # only when a config file exists: every command starts here

    try:
        data = tomllib.loads(f.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{f} is not valid TOML ({exc}).") from None
    unknown = sorted(set(data) - set(KEYS) - {RELOAD, WIKIS})
    if unknown:
        raise ConfigError(f"{f}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                          f"(allowed: {', '.join([*KEYS, RELOAD, WIKIS])}).")
    if RELOAD in data and not isinstance(data[RELOAD], str):
        raise ConfigError(f"{f}: {RELOAD} must be a string.")
    wikis = data.get(WIKIS, {})
    if not isinstance(wikis, dict) or not all(isinstance(v, dict) for v in wikis.values()):
        raise ConfigError(f"{f}: {WIKIS} holds one table per wiki: [{WIKIS}.\"/var/www/wiki\"].")
    for path, table in wikis.items():
        if set(table) - {RELOAD} or not isinstance(table.get(RELOAD, ""), str):
            raise ConfigError(f"{f}: [{WIKIS}.{path!r}] takes only {RELOAD}, a string.")
    return data


def load_defaults(files: list[Path] | None = None) -> dict[str, Any]:
    """Click parameter name -> default value, from the config files that exist."""
    out: dict[str, Any] = {}
    for f in files if files is not None else config_files():
        if not f.is_file():
            continue
        for key, value in _read(f).items():
            if key in (RELOAD, WIKIS):
                continue  # per wiki, and only from files the admin owns: reload_command_for
            if key == "catalog":
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                    raise ConfigError(f"{f}: catalog must be a string or a list of strings.")
                out["catalogs"] = tuple(items)
            else:
                if not isinstance(value, str):
                    raise ConfigError(f"{f}: {key} must be a string.")
                out[KEYS[key]] = str((f.parent / value).resolve()) if key == "wiki" else value
    return out


# Which commands take which default: a channel default must not become `channel publish --channel`.
USES: dict[str, tuple[str, ...]] = {
    "wiki": ("status", "verify", "upgrade", "rollback", "prune"),
    "channel": ("status", "verify", "upgrade", "install", "channel show"),
    "catalogs": ("resolve", "matrix", "test", "catalog list", "catalog show"),
}


def default_map(defaults: dict[str, Any]) -> dict[str, Any]:
    """Click's ``default_map`` (command -> subcommand -> parameter -> value) for the commands in USES."""
    out: dict[str, Any] = {}
    for param, value in defaults.items():
        for command in USES[param]:
            level = out
            for part in command.split():
                level = level.setdefault(part, {})
            level[param] = value
    return out


def reload_command_for(wiki: Path, files: list[Path] | None = None) -> str | None:
    """The reload command the config files give for ``wiki`` (its [wikis."<path>"] entry, else the top-level
    ``reload_command``; later files win), or None. Every file that names a reload command at all is checked
    first: a command another user could have written is refused, not skipped."""
    from mwrelease.upgrade.statedir import wiki_key  # a wiki is named as its state is: the parent resolved

    want = wiki_key(wiki)
    general: str | None = None
    own: str | None = None
    for f in files if files is not None else config_files():
        if not os.path.lexists(f):
            continue
        data = _read(f)
        wikis: dict[str, dict[str, str]] = data.get(WIKIS, {})
        if RELOAD not in data and not any(RELOAD in t for t in wikis.values()):
            continue
        check_admin_owned(f)
        general = data.get(RELOAD, general)
        for path, table in wikis.items():
            if RELOAD in table and wiki_key(f.parent / os.path.expanduser(path)) == want:
                own = table[RELOAD]
    return own if own is not None else general


def check_admin_owned(path: Path) -> None:
    """ConfigError unless ``path`` belongs to the user running mwrelease or to root, is not writable by group
    or others, and is not reached through a symbolic link (the state directory's rule, statedir.check_private)."""
    st = os.lstat(path)
    problem = None
    if stat.S_ISLNK(st.st_mode) or os.path.realpath(path) != os.path.abspath(path):
        problem = "is (or is reached through) a symbolic link"
    elif st.st_uid not in (os.geteuid(), 0):
        problem = f"belongs to user id {st.st_uid}, neither the user running mwrelease ({os.geteuid()}) nor root"
    elif st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    if problem:
        raise ConfigError(f"The config file {path} names a reload command, and it {problem}; mwrelease does not "
                          "run a command from it (another user could have written it) and changed nothing.",
                          hint="Check who wrote it. If it is yours, fix its owner and mode (chown, chmod go-w) or "
                               "move it out of the symlinked place, or pass --reload-command instead.")
