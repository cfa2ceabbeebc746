"""The command-line conventions (README "Command-line conventions"), checked on every command of the click
tree: a new command that breaks one fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import click
import pytest
from click.testing import CliRunner

from mwrelease.cli import cli
from mwrelease.cli.options import OutDir, OutputFile


def commands() -> Iterator[tuple[str, click.Command]]:
    def walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[str, click.Command]]:
        yield " ".join(path), cmd
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                yield from walk(sub, [*path, name])
    yield from walk(cli, [])


ALL = list(commands())
LEAVES = [(n, c) for n, c in ALL if not isinstance(c, click.Group)]


def options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]


def test_the_tree_is_walked() -> None:
    names = {n for n, _ in LEAVES}
    assert {"upgrade", "verify", "install", "catalog list", "catalog show", "release build", "matrix"} <= names


@pytest.mark.parametrize("name", [n for n, _ in ALL])
def test_every_command_has_help(name: str) -> None:
    r = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output, r.output
    cmd = dict(ALL)[name]
    assert (cmd.help or "").strip(), f"{name or 'mwrelease'} has no help text"


@pytest.mark.parametrize("name,cmd", LEAVES)
def test_output_is_a_file_and_a_folder_is_out_dir(name: str, cmd: click.Command) -> None:
    for o in options(cmd):
        if "-o" in o.opts or "--output" in o.opts:
            assert isinstance(o.type, OutputFile), f"{name}: -o/--output must be an OutputFile (a file)"
            assert set(o.opts) == {"-o", "--output"}, f"{name}: {o.opts}"
        if "--out-dir" in o.opts:
            assert isinstance(o.type, (OutDir, click.Path)) and not o.type.file_okay, f"{name}: --out-dir is a folder"
        if isinstance(o.type, click.Path) and o.type.dir_okay and o.type.file_okay and o.name in ("output", "out_dir"):
            pytest.fail(f"{name}: {o.opts} accepts both a file and a folder")


@pytest.mark.parametrize("name,cmd", LEAVES)
def test_list_flags_are_comma_separated_and_repeatable(name: str, cmd: click.Command) -> None:
    for o in options(cmd):
        if not o.multiple or isinstance(o.type, click.Path):  # lists of files are repeated (names may hold commas)
            continue
        assert o.callback is not None, f"{name} {o.opts}: a list flag needs the comma-splitting callback"
        ctx = click.Context(cmd)
        sample = ("mariadb,postgres", "mariadb") if "--db" in o.opts and name == "images build" else ("a,b", "c")
        assert o.callback(ctx, o, sample) == tuple(",".join(sample).split(",")), f"{name} {o.opts}"


@pytest.mark.parametrize("name,cmd", LEAVES)
def test_format_choices_and_json_envelope(name: str, cmd: click.Command) -> None:
    opts = {o.name: o for o in options(cmd)}
    for o in options(cmd):  # --json is only ever the envelope flag
        if "--json" in o.opts:
            assert o.name == "as_json" and o.is_flag, f"{name}: --json is not the envelope flag"
    fmt = opts.get("fmt")
    if fmt is not None:
        assert fmt.opts == ["--format"] and isinstance(fmt.type, click.Choice)
        assert set(fmt.type.choices) <= {"table", "json", "markdown", "html"}, fmt.type.choices


def test_format_with_json_is_a_usage_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["matrix", "--catalog", str(tmp_path), "--core", "1.43.0", "--format", "html",
                                 "--json"])
    assert r.exit_code == 2 and "--json" in r.output and "--format" in r.output, r.output


def test_missing_parent_folders_of_output_are_created(tmp_path: Path) -> None:
    out = tmp_path / "not" / "yet" / "there.yaml"
    lock = tmp_path / "x.lock"
    lock.write_text("{}")
    CliRunner().invoke(cli, ["bundle", "export-canasta", str(lock), "-o", str(out)])
    assert out.parent.is_dir()  # created while parsing, whatever the command then says about the lock
    r = CliRunner().invoke(cli, ["bundle", "export-canasta", str(lock), "-o", str(tmp_path)])
    assert r.exit_code == 2 and "is a directory" in r.output


def test_catalog_is_a_group_and_the_old_form_still_lists(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["catalog", "--help"])
    assert r.exit_code == 0 and "list" in r.output and "show" in r.output
    old = CliRunner().invoke(cli, ["catalog", "--catalog", str(tmp_path), "--json"])
    new = CliRunner().invoke(cli, ["catalog", "list", "--catalog", str(tmp_path), "--json"])
    assert old.exit_code == new.exit_code and old.output.replace("catalog list", "") == \
        new.output.replace("catalog list", ""), (old.output, new.output)
