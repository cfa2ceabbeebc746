"""``mwrelease`` with a snapshot catalog read lazily: a prototype for bench_resolver.py, not product code.

mwrelease/catalog/snapshot.py reads every NAME.json of a snapshot directory before resolving (about 1 s
of CPU for 2,000 extensions x 12 refs); Composer's pool builder reads only the packages a request can
reach. This launcher swaps in a catalog that reads NAME.json the first time the resolver asks for NAME
(same parser, ``_from_snapshot``), so the benchmark can show what that change would buy whole-process.
Aliases (extension.json "name" differing from the file name) are not looked up: fine for the synthetic
universe, not for the real metadata.

    python benchmarks/lazy_catalog_cli.py resolve BUNDLE --core 1.43.0 --catalog DIR
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from mwrelease.catalog import Candidate, Catalog
from mwrelease.catalog.snapshot import _from_snapshot


class LazySnapshotCatalog(Catalog):
    def __init__(self, directory: Path) -> None:
        super().__init__([], sources=[f"snapshot:{directory} (lazy)"])
        self.directory = directory
        self._read: set[str] = set()

    def _load(self, name: str) -> None:
        if name in self._read:
            return
        self._read.add(name)
        f = self.directory / f"{name}.json"
        if f.is_file():
            self._by_name[name] = list(_from_snapshot(json.loads(f.read_text()), origin=f"snapshot:{f}"))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (self.directory / f"{name}.json").is_file()

    def candidates(self, name: str) -> list[Candidate]:
        self._load(name)
        return super().candidates(name)

    def names(self) -> list[str]:
        return sorted((p.stem for p in self.directory.glob("*.json")), key=str.lower)

    def all(self) -> Iterable[Candidate]:
        for name in self.names():
            yield from self.candidates(name)


def main() -> None:
    import mwrelease.cli.options as options

    def lazy(bundle: object, specs: tuple[str, ...]) -> Catalog:
        return LazySnapshotCatalog(Path(specs[0]))

    options.open_bundle_catalog = lazy  # type: ignore[assignment]
    import mwrelease.cli.resolve as resolve_cmd

    resolve_cmd.open_bundle_catalog = lazy  # type: ignore[attr-defined]
    from mwrelease.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
