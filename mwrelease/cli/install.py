"""`mwrelease install`: a fresh wiki from a verified release."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.upgrade import unsigned_option
from mwrelease.errors import ConfigError
from mwrelease.output import Result


def secret(file: Path | None, env: str, *, what: str, prompt: str | None) -> str:
    """A password from a file (first line), else an environment variable, else a prompt on a terminal; never argv."""
    if file is not None:
        lines = file.read_text().splitlines()
        if not lines or not lines[0]:
            raise ConfigError(f"{file} is empty; it should hold the {what} on its first line.")
        return lines[0]
    if os.environ.get(env):
        return os.environ[env]
    if prompt is None:
        return ""
    if not sys.stdin.isatty():
        raise ConfigError(f"The {what} is needed, and there is no terminal to ask for it on.",
                          hint=f"Put it in a file (mode 0600) and pass its path, or set ${env}.")
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)
    return value


@click.command("install")
@click.option("--channel", required=True, help="Release channel: a directory, file:// or https:// URL.")
@click.option("--to", "to", metavar="VERSION", help="Install this release (default: the newest of --line).")
@click.option("--line", metavar="LINE", help="Install the newest release of this line, e.g. 1.43 (default: the "
                                             "channel's newest).")
@click.option("--path", "path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The new wiki's directory; it must not exist, or be empty.")
@click.option("--db", "db", required=True, type=click.Choice(["sqlite", "mariadb", "postgres"]),
              help="The database the wiki uses.")
@click.option("--server", required=True, metavar="URL",
              help="The wiki's URL, e.g. https://wiki.example.org or http://example.org/w ($wgServer and "
                   "$wgScriptPath).")
@click.option("--admin", required=True, metavar="NAME", help="The first administrator's user name.")
@click.option("--admin-password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A file whose first line is the administrator's password (else $MWRELEASE_ADMIN_PASSWORD, "
                   "else a prompt).")
@click.option("--sitename", default="My wiki", show_default=True, help="The wiki's name.")
@click.option("--db-name", default="my_wiki", show_default=True, help="Database name.")
@click.option("--db-server", default="localhost", show_default=True, help="MariaDB/PostgreSQL host[:port].")
@click.option("--db-user", default="", help="MariaDB/PostgreSQL user (the database and user must exist).")
@click.option("--db-password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A file whose first line is the database password (else $MWRELEASE_DB_PASSWORD).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="SQLite: the directory for the database files (default: <path>-data beside the wiki).")
@click.option("--php", default="php", show_default=True, help="PHP binary that runs install.php.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Downloads and later upgrade state, private to you (default: /var/lib/mwrelease/<wiki-id> for "
                   "root, $XDG_STATE_HOME/mwrelease/<wiki-id> otherwise).")
@unsigned_option
@json_option
@reporting("install")
def install(channel: str, to: str | None, line: str | None, path: Path, db: str, server: str, admin: str,
            admin_password_file: Path | None, sitename: str, db_name: str, db_server: str, db_user: str,
            db_password_file: Path | None, data_dir: Path | None, php: str, state_dir: Path | None,
            allow_unsigned: bool) -> Result:
    """Install a fresh wiki from a verified release of a channel: download (sha256 checked), unpack and
    verify every file against the manifest, run install.php, and record the release so that the next
    `mwrelease upgrade` and `mwrelease verify` know the baseline. Passwords never go on a command line.

    \b
    A signed channel is verified with TUF against the anchor recorded by `mwrelease channel trust`.

    \b
    Exit codes: 0 installed; 3 bad option, --path not empty, no password; 4 channel unreachable;
    8 the channel or the artifact does not verify, or the channel is not trusted yet; 9 install.php failed (the unpacked tree was removed).
    """
    from mwrelease.upgrade.install import InstallOptions, install as do_install

    password = secret(admin_password_file, "MWRELEASE_ADMIN_PASSWORD", what="administrator's password",
                      prompt=f"Password for {admin}")
    db_password = secret(db_password_file, "MWRELEASE_DB_PASSWORD", what="database password", prompt=None)
    opts = InstallOptions(channel=channel, path=path, db=db, server=server, admin=admin,  # type: ignore[arg-type]
                          admin_password=password, sitename=sitename, to=to, line=line, db_name=db_name,
                          db_server=db_server, db_user=db_user, db_password=db_password, data_dir=data_dir, php=php,
                          state_dir=state_dir, allow_unsigned=allow_unsigned)
    out = do_install(opts, say=lambda m: click.echo(m, err=True))
    return Result(data=out, text=f"installed MediaWiki {out['version']} at {out['path']}; next: {out['next']}")
