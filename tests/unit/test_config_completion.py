"""Config-file defaults, shell completion and the catalog shipped in the package, through the entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mwrelease.catalog import load_catalog
from mwrelease.config import default_map, load_defaults

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_config_files_give_defaults_and_the_command_line_wins(tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    (home / "mwrelease").mkdir(parents=True)
    (home / "mwrelease" / "config.toml").write_text('wiki = "/srv/from-home"\nchannel = "http://127.0.0.1:9/"\n')
    work = tmp_path / "work"
    work.mkdir()
    env = {"XDG_CONFIG_HOME": str(home)}
    r = cli("verify", cwd=work, env=env)
    assert r.returncode == 3 and "/srv/from-home does not exist" in r.stderr, r.stderr
    (work / "mwrelease.toml").write_text('wiki = "here"\n')  # ./mwrelease.toml wins, relative to its folder
    r = cli("verify", cwd=work, env=env)
    assert r.returncode == 3 and f"{work / 'here'} does not exist" in r.stderr, r.stderr
    r = cli("verify", "--wiki", str(tmp_path / "given"), cwd=work, env=env)
    assert r.returncode == 3 and "given does not exist" in r.stderr, r.stderr
    (work / "mwrelease.toml").write_text('wikki = "here"\n')
    r = cli("verify", cwd=work, env=env)
    assert r.returncode == 3 and "unknown key wikki" in r.stderr


def test_a_channel_default_reaches_only_the_admin_commands(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('channel = "https://x/"\ncatalog = ["a", "b"]\n')
    dm = default_map(load_defaults([f]))
    assert dm["upgrade"]["channel"] == "https://x/" and dm["channel"] == {"show": {"channel": "https://x/"}}  # not `channel publish --channel`
    assert dm["catalog"]["list"]["catalogs"] == ("a", "b") and dm["matrix"]["catalogs"] == ("a", "b")


def test_completion_scripts_and_completing_a_command(tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        r = cli("completion", shell, cwd=tmp_path)
        assert r.returncode == 0 and "_MWRELEASE_COMPLETE" in r.stdout, (shell, r.stderr)
    r = subprocess.run([sys.executable, "-c", "from mwrelease.cli import main; main()"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO), "_MWRELEASE_COMPLETE": "bash_complete",
                            "COMP_WORDS": "mwrelease catalog ", "COMP_CWORD": "2"})
    assert r.stdout.split() == ["plain,list", "plain,show"], r.stdout + r.stderr


def test_the_package_ships_a_catalog_snapshot() -> None:
    packaged = REPO / "mwrelease" / "data" / "catalog"
    cat = load_catalog((str(packaged),))
    assert {"Cite", "ParserFunctions", "Babel"} <= set(cat.names())
    assert '"data/catalog/*.json"' in (REPO / "pyproject.toml").read_text()
