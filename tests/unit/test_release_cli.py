from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mwrelease.cli import cli
from tests.unit.helpers import make_core, make_lock


def test_release_build_and_channel_publish_cli(tmp_path: Path) -> None:
    lock_path = tmp_path / "tarball-1.43.lock"
    make_lock("1.43.5").dump(lock_path)
    core = make_core(tmp_path / "core", "1.43.5")
    runner = CliRunner()
    r = runner.invoke(cli, ["release", "build", str(lock_path), "--core-tree", str(core), "--out-dir", str(tmp_path / "out"),
                            "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert any("not approved" in w for w in data["warnings"])  # a build is not an approval, and says so
    tarball = data["data"]["artifacts"][0]["tarball"]
    r = runner.invoke(cli, ["channel", "publish", tarball, "--channel", str(tmp_path / "ch"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["data"]["line"] == "1.43-lts"
    r = runner.invoke(cli, ["channel", "show", str(tmp_path / "ch"), "--json"])
    assert r.exit_code == 8 and "is not signed" in r.output  # an unsigned channel is not listed as if approved
    r = runner.invoke(cli, ["channel", "show", str(tmp_path / "ch"), "--allow-unsigned"])
    assert r.exit_code == 0 and "1.43.5" in r.stdout


def test_release_build_version_mismatch_exit_code(tmp_path: Path) -> None:
    lock_path = tmp_path / "l.lock"
    make_lock("1.43.6").dump(lock_path)
    core = make_core(tmp_path / "core", "1.43.5")
    r = CliRunner().invoke(cli, ["release", "build", str(lock_path), "--core-tree", str(core), "-o",
                                 str(tmp_path / "out"), "--json"])
    assert r.exit_code == 3
    assert json.loads(r.stdout)["errors"][0]["kind"] == "config"


def test_channel_show_takes_the_channel_as_upgrade_does(tmp_path: Path) -> None:
    lock_path = tmp_path / "l.lock"
    make_lock("1.43.5").dump(lock_path)
    core = make_core(tmp_path / "core", "1.43.5")
    runner = CliRunner()
    r = runner.invoke(cli, ["release", "build", str(lock_path), "--core-tree", str(core), "--out-dir", str(tmp_path / "out"),
                            "--json"])
    tarball = json.loads(r.stdout)["data"]["artifacts"][0]["tarball"]
    assert runner.invoke(cli, ["channel", "publish", tarball, "--channel", str(tmp_path / "ch")]).exit_code == 0
    by_option = runner.invoke(cli, ["channel", "show", "--channel", str(tmp_path / "ch"), "--allow-unsigned", "--json"])
    by_argument = runner.invoke(cli, ["channel", "show", str(tmp_path / "ch"), "--allow-unsigned", "--json"])
    assert by_option.exit_code == 0 and json.loads(by_option.stdout)["data"] == json.loads(by_argument.stdout)["data"]
    r = runner.invoke(cli, ["channel", "show"])
    assert r.exit_code == 2 and "--channel" in r.output
    r = runner.invoke(cli, ["channel", "show", str(tmp_path / "ch"), "--channel", str(tmp_path / "other")])
    assert r.exit_code == 2 and "Two channels" in r.output
