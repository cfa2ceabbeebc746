"""Defaults for --wiki, --channel and --catalog from a config file, so an admin types them once.

Read in this order, later files winning: ``$XDG_CONFIG_HOME/mwrelease/config.toml`` (default
``~/.config/mwrelease/config.toml``), then ``./mwrelease.toml``. Options given on the command line always
win. Format (every key optional, unknown keys are an error)::

    wiki = "/var/www/wiki"                            # relative paths are relative to the file
    channel = "https://releases.example.org/mediawiki/"
    catalog = ["core:/srv/cores/1.43", "snapshots/"]  # or one string
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError

KEYS = {"wiki": "wiki", "channel": "channel", "catalog": "catalogs"}  # file key -> click parameter name


def config_files(cwd: Path | None = None) -> list[Path]:
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [home / "mwrelease" / "config.toml", (cwd or Path.cwd()) / "mwrelease.toml"]


def load_defaults(files: list[Path] | None = None) -> dict[str, Any]:
    """Click parameter name -> default value, from the config files that exist."""
    out: dict[str, Any] = {}
    for f in files if files is not None else config_files():
        if not f.is_file():
            continue
        import tomllib  # only when a config file exists: every command starts here

        try:
            data = tomllib.loads(f.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{f} is not valid TOML ({exc}).") from None
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ConfigError(f"{f}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                              f"(allowed: {', '.join(KEYS)}).")
        for key, value in data.items():
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
    "channel": ("status", "verify", "upgrade", "install"),
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
