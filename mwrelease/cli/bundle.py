from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import output_option
from mwrelease.output import Result


@click.group()
def bundle() -> None:
    """Validate bundle specs; import and export Canasta's RecommendedRevisions YAML."""


@bundle.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@reporting("bundle validate")
def validate(files: tuple[Path, ...]) -> Result:
    """Check bundles/NAME.yaml files against the bundle JSON Schema; every problem of every file at once."""
    from mwrelease.bundle import load_bundle
    from mwrelease.errors import ConfigError

    ok, problems = [], []
    structured: list[dict[str, object]] = []  # file, line, key, message: for CI annotations (--json)
    for f in files:
        try:
            b = load_bundle(f)
            ok.append({"file": str(f), "name": b.name, "extensions": len(b.extensions), "skins": len(b.skins)})
        except ConfigError as exc:
            problems.append(exc.render())
            structured += exc.problems or [{"file": str(f), "line": None, "key": None, "message": exc.message}]
    if problems:
        err = ConfigError(f"{len(problems)} of {len(files)} bundle file(s) are invalid:", details=problems)
        err.problems = structured
        raise err
    return Result(data={"valid": ok}, text="\n".join(f"{o['file']}: valid ({o['extensions']} extensions, {o['skins']} skins)" for o in ok))


@bundle.command("schema")
def schema() -> None:
    """Print the bundle JSON Schema (for editors: yaml-language-server)."""
    from importlib import resources

    click.echo(resources.files("mwrelease").joinpath("schema/bundle.schema.json").read_text())


@bundle.command("import-canasta")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--line", required=True, metavar="1.43", help="The core line the file is for (its file name, e.g. 1.43.yaml).")
@click.option("--name", help="Bundle name (default recommended-LINE).")
@output_option("Write the bundle YAML to this file.")
@json_option
@reporting("bundle import-canasta")
def import_canasta(file: Path, line: str, name: str | None, output: Path | None) -> Result:
    """Turn a Canasta/Taqasta RecommendedRevisions YAML into an mwrelease bundle."""
    import yaml

    from mwrelease.bundle import parse_bundle
    from mwrelease.canasta import import_recommended_revisions, read_text

    data, notes = import_recommended_revisions(read_text(file), line=line, origin=str(file), name=name)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    parse_bundle(text, origin=output or Path("imported.yaml"))  # what we write must validate
    if output:
        output.write_text(text)
    return Result(data={"bundle": data, "notes": notes}, warnings=notes,
                  text=f"bundle written to {output} ({len(data['extensions'])} extensions, {len(data.get('skins', {}))} skins)" if output else text)


@bundle.command("export-canasta")
@click.argument("lock", type=click.Path(path_type=Path))
@output_option("Write the YAML to this file.")
@json_option
@reporting("bundle export-canasta")
def export_canasta(lock: Path, output: Path | None) -> Result:
    """Write a lock as Canasta RecommendedRevisions YAML (exact commits)."""
    from mwrelease.canasta import export_recommended_revisions
    from mwrelease.lock import Lock

    text = export_recommended_revisions(Lock.load(lock))
    if output:
        output.write_text(text)
    return Result(data={"yaml": text}, text=f"written to {output}" if output else text)
