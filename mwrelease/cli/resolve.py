from __future__ import annotations

from pathlib import Path

import click

from mwrelease.bundle import load_bundle
from mwrelease.cli import json_option, reporting
from mwrelease.cli.options import catalog_option, csv_callback, open_bundle_catalog, output_option, split_csv
from mwrelease.output import Result


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--core", "core", required=True, metavar="VERSION", help="Exact MediaWiki core version to resolve for, e.g. 1.43.9.")
@click.option("--php", "php", multiple=True, callback=csv_callback, metavar="VERSION",
              help="PHP version(s) to check requires.platform.php against (default: the bundle's php list).")
@catalog_option
@output_option("Write the lock to this file. Without it no lock is written: a table of the resolved components "
               "is printed instead (with --json, the whole lock is in the envelope's data.lock).")
@json_option
@reporting("resolve")
def resolve(bundle: Path, core: str, php: tuple[str, ...], catalogs: tuple[str, ...], output: Path | None) -> Result:
    """Resolve BUNDLE (bundles/NAME.yaml) to a lock: the exact ref of every extension and skin that fits
    MediaWiki VERSION, following extension.json `requires` recursively.

    Prefers the core's own REL branch (REL1_43 for 1.43.x), then the newest tag whose `requires` admit the
    core. Exit code 5 when no set of refs fits, with the reason in MediaWiki's words.

    Prints a table (name, kind, ref, commit, version, required by), not the lock: pass -o FILE to write the
    lock, or --json for it in the envelope's data.lock.
    """
    from mwrelease.resolver import Target
    from mwrelease.resolver import resolve as do_resolve

    import gc

    # A large resolve allocates some 10^5 objects and frees few before the process ends: the cyclic collector's
    # passes over them cost 10-20% of its CPU (Composer pauses PHP's collector while solving, likewise).
    gc.disable()
    try:
        spec = load_bundle(bundle)
        catalog = open_bundle_catalog(spec, catalogs)
        php_versions = tuple(split_csv(php)) or spec.php
        resolution = do_resolve(spec, catalog, Target(core=core, php=php_versions))
        lock = resolution.lock
        data = lock.to_json()
        if output:
            lock.dump(output, data=data)
    finally:
        gc.enable()

    def text() -> str:
        rows = [f"{c.name:<28} {c.kind:<9} {c.ref or '-':<14} {(c.commit or '')[:10]:<10} {c.version or '':<12} "
                f"{'' if c.required_by == ('bundle',) else 'required by ' + ', '.join(c.required_by)}"
                for c in lock.components]
        head = f"{lock.bundle}: {len(lock.components)} components for MediaWiki {lock.core_version}" + (
            f" (PHP {', '.join(lock.php)})" if lock.php else "")
        tail = f"lock written to {output}" if output else ""
        return "\n".join([head, *rows, tail]).rstrip()

    return Result(data={"lock": data, "output": str(output) if output else None}, text=text)
