"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from mwrelease.bundle import Bundle
from mwrelease.catalog import Catalog, default_snapshot_dir, load_catalog
from mwrelease.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

catalog_option = click.option(
    "--catalog", "catalogs", multiple=True, metavar="SRC", callback=lambda c, p, v: split_tuple(v),
    help="Catalog source, comma-separated or repeated: a snapshot dir, extension trees, a core tree (core:DIR) or a git URL. "
         "Default: $MWRELEASE_CATALOG, `catalog` in mwrelease.toml, a checkout's ../shared/data/extension-metadata, or the "
         "snapshot shipped in the package.")


def open_catalog(specs: tuple[str, ...], extra: tuple[str, ...] = ()) -> Catalog:
    """The given sources (or the default snapshot directory when none), plus ``extra`` (a bundle's own)."""
    if not specs:
        default = default_snapshot_dir()
        if default is None:
            raise ConfigError("No catalog source given and no default snapshot directory found.",
                              hint="Pass --catalog DIR (or set MWRELEASE_CATALOG).")
        specs = (str(default),)
    return load_catalog(specs + extra)


def split_csv(values: tuple[str, ...] | str | None) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        values = (values,)
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def open_bundle_catalog(bundle: Bundle, specs: tuple[str, ...]) -> Catalog:
    """``open_catalog`` plus the sources a bundle names itself (git URLs and paths of its entries)."""
    own = set()
    for c in bundle.components:
        if c.source.type == "git" and c.source.url:
            own.add(f"git:{c.source.url}")
        elif c.source.type == "path" and c.source.path:
            own.add(f"tree:{Path(c.source.path).parent}")
    return open_catalog(specs, tuple(sorted(own)))


# --- the CLI conventions (README "Command-line conventions"; tests/unit/test_cli_conventions.py) -----------

class OutputFile(click.Path):
    """``-o/--output``: always a file; its missing parent folders are created (a typo in a folder name
    would otherwise lose a whole run's work at the end)."""

    name = "output file"

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)  # click refuses a directory here
        assert isinstance(path, Path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.fail(f"cannot create the folder {path.parent}: {exc.strerror}", param, ctx)
        return path


class OutDir(click.Path):
    """``--out-dir``: a folder, created with its parents when missing."""

    name = "output folder"

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        assert isinstance(path, Path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.fail(f"cannot create the folder {path}: {exc.strerror}", param, ctx)
        return path


def csv_callback(ctx: click.Context, param: click.Parameter, value: tuple[str, ...] | None) -> tuple[str, ...]:
    """Every list flag takes comma-separated values and may be repeated: --core 1.39,1.43 --core 1.44."""
    return split_tuple(value)


def split_tuple(value: tuple[str, ...] | None) -> tuple[str, ...]:
    return tuple(split_csv(value))


def output_option(help: str, **kw: Any) -> Callable[[F], F]:
    return click.option("-o", "--output", type=OutputFile(), help=help, **kw)


def out_dir_option(help: str, **kw: Any) -> Callable[[F], F]:
    return click.option("--out-dir", "out_dir", type=OutDir(), help=help, **kw)


def legacy_output_option() -> Callable[[F], F]:
    """The old ``-o/--output DIR`` of a folder command: hidden, as -o is a file everywhere else, but kept so
    old scripts still work (as ``release build -o``)."""
    return click.option("-o", "--output", "legacy_out_dir", hidden=True,
                        type=click.Path(file_okay=False, path_type=Path))


def pick_out_dir(out_dir: Path | None, legacy_out_dir: Path | None, *, required: bool) -> Path | None:
    """``--out-dir`` or its hidden old spelling ``-o``, not both."""
    if out_dir is not None and legacy_out_dir is not None:
        raise click.UsageError("Give the folder once, with --out-dir DIR.")
    chosen = out_dir or legacy_out_dir
    if chosen is None and required:
        raise click.UsageError("Missing option '--out-dir'.")
    return chosen


def csv_choice(*choices: str) -> Callable[[click.Context, click.Parameter, tuple[str, ...] | None], tuple[str, ...]]:
    """A list flag of fixed words: split like ``csv_callback``, then check each word."""
    def callback(ctx: click.Context, param: click.Parameter, value: tuple[str, ...] | None) -> tuple[str, ...]:
        out = split_tuple(value)
        bad = [v for v in out if v not in choices]
        if bad:
            raise click.BadParameter(f"{', '.join(bad)} (choose from {', '.join(choices)})", ctx, param)
        return out
    return callback
