"""The real console entry point, run as a subprocess: help, version, JSON envelope, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from mwrelease.cli import COMMANDS, cli
from tests.helpers import REPO, core_tree


def all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    ctx = click.Context(cli)

    def walk(cmd: click.Command, prefix: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                paths.append(prefix + [name])
                walk(sub, prefix + [name])

    walk(cli, [])
    return paths


def test_help_on_every_command(run_cli) -> None:  # type: ignore[no-untyped-def]
    paths = all_command_paths()
    assert len(paths) > len(COMMANDS)
    for path in paths:
        proc = run_cli(*path, "--help")
        assert proc.returncode == 0, (path, proc.stderr)
        assert "Usage: mwrelease" in proc.stdout


def test_version(run_cli) -> None:  # type: ignore[no-untyped-def]
    from mwrelease import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_resolve_json_envelope_and_lock(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "t.lock"
    proc = run_cli("resolve", "bundles/tarball-1.43.yaml", "--core", "1.43.9", "--catalog", f"core:{core_tree('1.43')}",
                   "-o", str(lock), "--json")
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)
    assert env["format"] == "mwrelease/1" and env["status"] == "ok" and env["exit_code"] == 0
    names = [c["name"] for c in env["data"]["lock"]["components"]]
    assert "VisualEditor" in names and "Vector" in names
    on_disk = json.loads(lock.read_text())
    assert on_disk["format"] == "mwrelease.lock/1" and on_disk["core"] == {"version": "1.43.9", "line": "1.43"}
    assert all(c["ref"] == "REL1_43" and c["source"] == {"type": "bundled"} for c in on_disk["components"])


def test_resolve_language_bundle_on_real_snapshots(run_cli, snapshots: Path) -> None:  # type: ignore[no-untyped-def]
    proc = run_cli("resolve", "bundles/language-1.43.yaml", "--core", "1.43.9", "--catalog", str(snapshots), "--json")
    assert proc.returncode == 0, proc.stderr
    comps = {c["name"]: c for c in json.loads(proc.stdout)["data"]["lock"]["components"]}
    assert comps["Translate"]["ref"] == "REL1_43"
    assert "Translate" in comps["UniversalLanguageSelector"]["required_by"]
    assert comps["Babel"]["source"]["url"] == "https://github.com/wikimedia/mediawiki-extensions-Babel.git"


BAD_INPUT = {
    "malformed-yaml": ("name: x\ncore: [\n", 3, "is not valid YAML"),
    "unknown-key": ("name: x\ncore: {lines: ['1.43']}\nextensions: {Cite: null}\nflavour: oops\n", 3, "unknown key 'flavour'"),
    "unknown-extension": ("name: x\ncore: {lines: ['1.43']}\nextensions: {Cyte: null}\n", 3, "did you mean Cite?"),
    "impossible": ("name: x\ncore: {lines: ['1.43']}\nphp: ['7.4']\nextensions: {SemanticMediaWiki: {ref: 7.0.0}}\n", 5,
                   "SemanticMediaWiki 7.0.0 requires PHP >=8.1; PHP is 7.4"),
    "unreachable-git": ("name: x\ncore: {lines: ['1.43']}\nextensions: {Gizmo: {source: {git: 'file:///nonexistent/Gizmo.git'}}}\n", 4,
                        "git failed while cloning"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_clear_message_and_exit_code(run_cli, tmp_path: Path, snapshots: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    text, code, needle = BAD_INPUT[case]
    bundle = tmp_path / "x.yaml"
    bundle.write_text(text)
    proc = run_cli("resolve", str(bundle), "--core", "1.43.9", "--catalog", str(snapshots))
    assert proc.returncode == code, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")
    as_json = run_cli("resolve", str(bundle), "--core", "1.43.9", "--catalog", str(snapshots), "--json")
    env = json.loads(as_json.stdout)
    assert as_json.returncode == code and env["status"] == "error" and needle in json.dumps(env["errors"])


def test_bad_constraint_in_catalog(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ext = tmp_path / "exts" / "Broken"
    ext.mkdir(parents=True)
    (ext / "extension.json").write_text(json.dumps({"name": "Broken", "requires": {"MediaWiki": ">= 1.43 <<< x"}}))
    bundle = tmp_path / "b.yaml"
    bundle.write_text("name: b\ncore: {lines: ['1.43']}\nextensions: {Broken: null}\n")
    proc = run_cli("resolve", str(bundle), "--core", "1.43.0", "--catalog", str(tmp_path / "exts"))
    assert proc.returncode == 5
    assert "Broken tree declares requires.MediaWiki '>= 1.43 <<< x', which is not a valid constraint" in proc.stderr
    proc = run_cli("matrix", "--catalog", str(tmp_path / "exts"), "--core", "1.43.0", "--format", "json")
    assert proc.returncode == 0
    row = json.loads(proc.stdout)[0]
    assert row["status"] == "incompatible" and row["reasons"][0]["code"] == "invalid-constraint"


def test_matrix_formats(run_cli, tmp_path: Path, snapshots: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "m.html"
    proc = run_cli("matrix", "--catalog", str(snapshots), "--core", "1.39.4,1.43.9", "--format", "html", "-o", str(out))
    assert proc.returncode == 0 and out.read_text().startswith("<!doctype html>")
    proc = run_cli("matrix", "--catalog", str(snapshots), "--core", "1.43.9", "--name", "Echo", "--format", "markdown")
    assert proc.returncode == 0 and "| Echo | extension | REL1_43 | ✓ |" in proc.stdout


def test_exit_codes_listed(run_cli) -> None:  # type: ignore[no-untyped-def]
    proc = run_cli("exit-codes", "--json")
    data = json.loads(proc.stdout)["data"]
    assert data["5"].startswith("resolution conflict") and data["3"].startswith("configuration error")


def test_bundle_validate_all_shipped(run_cli) -> None:  # type: ignore[no-untyped-def]
    proc = run_cli("bundle", "validate", *[str(p) for p in sorted((REPO / "bundles").glob("*.yaml"))])
    assert proc.returncode == 0, proc.stderr
