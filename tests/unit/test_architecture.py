"""The shape of the package (README, "Architecture"): no import cycle, the rooms import only what they may,
planning modules do no I/O, and no module grows past what one reader holds in mind.

The import graph is read from the source with ``ast`` (nothing is imported), counting module-level and
function-level imports alike: a lazy import inside a function is still a dependency, only a later one.
``if TYPE_CHECKING:`` imports are counted too; they are rare here and a cycle through them is still a knot.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mwrelease"
MAX_LINES = 400
# A faithful line-by-line port of composer/semver: splitting it would make it harder to compare with upstream.
LONG_ALLOWED = {"mwrelease/versions.py"}


@dataclass(frozen=True, kw_only=True)
class Edge:
    source: str
    target: str
    where: str  # path:line of the import statement


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module or name, line) for every import statement anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                # `from mwrelease.release import build` imports a module; `from mwrelease.lock import Lock` a name.
                full = f"{origin}.{alias.name}"
                yield (full if full in MODULES else origin), node.lineno


def _edges() -> list[Edge]:
    edges: list[Edge] = []
    for module, path in MODULES.items():
        seen: set[str] = set()
        for name, line in _imports(module, path):
            target = _owner(name) if name.split(".")[0] == "mwrelease" else None
            if target is None or target == module or target in seen:
                continue
            seen.add(target)
            edges.append(Edge(source=module, target=target, where=f"{path.relative_to(PACKAGE.parent)}:{line}"))
    return edges


EDGES = _edges()


def _external(module: str) -> set[str]:
    """Top-level names of everything outside mwrelease that ``module`` imports (stdlib and third party)."""
    return {name.split(".")[0] for name, _ in _imports(module, MODULES[module]) if name.split(".")[0] != "mwrelease"}


def _cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One concrete cycle per strongly connected component with more than one module (Tarjan)."""
    graph: dict[str, list[Edge]] = {m: [] for m in MODULES}
    for e in edges:
        graph[e.source].append(e)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the ~60 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph[v]:
            if e.target not in index:
                visit(e.target)
                low[v] = min(low[v], low[e.target])
            elif e.target in on_stack:
                low[v] = min(low[v], index[e.target])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for m in sorted(MODULES):
        if m not in index:
            visit(m)

    cycles = []
    for component in components:
        start = min(component)
        # Shortest way back to start inside the component (breadth first), so the message names a real loop.
        paths: dict[str, list[Edge]] = {start: []}
        queue = [start]
        found: list[Edge] | None = None
        while queue and found is None:
            v = queue.pop(0)
            for e in sorted(graph[v], key=lambda e: e.target):
                if e.target not in component:
                    continue
                if e.target == start:
                    found = paths[v] + [e]
                    break
                if e.target not in paths:
                    paths[e.target] = paths[v] + [e]
                    queue.append(e.target)
        assert found is not None
        cycles.append(found)
    return cycles


def _describe(cycle: list[Edge], edges: list[Edge]) -> str:
    names = " -> ".join([cycle[0].source] + [e.target for e in cycle])
    # The whole knot (strongly connected component) can be larger than the one loop named.
    more = sorted(_knot(cycle[0].source, edges) - {e.source for e in cycle})
    return names + "\n" + "\n".join(f"      {e.source} imports {e.target} at {e.where}" for e in cycle) + (
        f"\n      (the same knot also holds {', '.join(more)})" if more else "")


def _knot(start: str, edges: list[Edge]) -> set[str]:
    """The modules reachable from ``start`` that also reach it back."""
    def reach(frm: str, forward: bool) -> set[str]:
        seen, todo = {frm}, [frm]
        while todo:
            v = todo.pop()
            for e in edges:
                a, b = (e.source, e.target) if forward else (e.target, e.source)
                if a == v and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen
    return reach(start, True) & reach(start, False)


def test_the_import_graph_is_read() -> None:
    # Guards the walker itself: a graph with no edges would make every rule below pass vacuously.
    assert "mwrelease.cli" in MODULES and "mwrelease.errors" in MODULES
    pairs = {(e.source, e.target) for e in EDGES}
    assert ("mwrelease.cli.resolve", "mwrelease.resolver") in pairs
    assert ("mwrelease.catalog", "mwrelease.catalog.git") in pairs  # a function-level import counts


def test_no_import_cycle() -> None:
    cycles = _cycles(EDGES)
    assert not cycles, f"{len(cycles)} import cycle(s) in mwrelease:\n" + "\n".join(
        f"  - {_describe(c, EDGES)}" for c in cycles)


def _in(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


# (importer room, imported room, why). A room is a module or a package (with everything under it).
FORBIDDEN: list[tuple[str, str, str]] = [
    ("mwrelease.upgrade", "mwrelease.runner", "the admin side runs on a wiki server without a container engine"),
    ("mwrelease.upgrade", "mwrelease.release.build", "the admin side verifies and unpacks, it does not build"),
    ("mwrelease.upgrade", "mwrelease.resolver", "the admin side installs releases, it does not resolve bundles"),
    ("mwrelease.runner", "mwrelease.release", "testing does not depend on how releases are built"),
    ("mwrelease.runner", "mwrelease.upgrade", "testing does not depend on the admin side"),
    ("mwrelease.release", "mwrelease.upgrade", "releases are built without the admin side"),
    ("mwrelease.catalog", "mwrelease.resolver", "the catalog says what exists; choosing is the resolver's"),
    ("mwrelease.catalog", "mwrelease.runner", "the catalog reads metadata, it does not run containers"),
    ("mwrelease.report", "mwrelease.runner.engine", "reports render results, they do not run anything"),
    ("mwrelease.report", "mwrelease.runner.cell", "reports render results, they do not run anything"),
    ("mwrelease.trust", "mwrelease.runner", "keys, seals and approvals do not run containers"),
    ("mwrelease.trust", "mwrelease.upgrade", "the admin side uses trust, not the other way round"),
]
CLI_USERS = ("mwrelease.cli", "mwrelease.__main__")  # only these may import mwrelease.cli
BOTTOM = ("mwrelease.errors", "mwrelease.output", "mwrelease.cachedir", "mwrelease.jsonfile")  # import nothing of ours but errors

# Planning is pure (cells, the resolver, upgrade stops, seal verdicts): no process, file-tree, network or
# container library. They may still take a Path or read a given file through their callers.
PLANNING = ("mwrelease.versions", "mwrelease.compat", "mwrelease.resolver", "mwrelease.runner.plan",
            "mwrelease.upgrade.plan", "mwrelease.seal")
IO_LIBRARIES = {"subprocess", "shutil", "socket", "tarfile", "zipfile", "sqlite3", "tempfile", "urllib", "http",
                "requests", "docker"}


def _walls_broken(edges: list[Edge]) -> list[str]:
    broken = [f"{e.source} imports {e.target} at {e.where}: {why}"
              for e in edges for a, b, why in FORBIDDEN if _in(e.source, a) and _in(e.target, b)]
    broken += [f"{e.source} imports {e.target} at {e.where}: only the command line knows about the command line"
               for e in edges if _in(e.target, "mwrelease.cli") and not any(_in(e.source, u) for u in CLI_USERS)]
    broken += [f"{e.source} imports {e.target} at {e.where}: the bottom modules import only mwrelease.errors"
               for e in edges if e.source in BOTTOM and e.target != "mwrelease.errors"]
    return broken


def test_rooms_import_only_what_they_may() -> None:
    broken = _walls_broken(EDGES)
    assert not broken, f"{len(broken)} import(s) across the rooms' walls:\n" + "\n".join(f"  - {b}" for b in broken)


def test_planning_modules_do_no_io() -> None:
    assert all(m in MODULES for m in PLANNING), [m for m in PLANNING if m not in MODULES]
    broken = [f"{m} imports {', '.join(sorted(_external(m) & IO_LIBRARIES))}" for m in PLANNING
              if _external(m) & IO_LIBRARIES]
    broken += [f"{e.source} imports {e.target} at {e.where}" for e in EDGES
               if e.source in PLANNING and _in(e.target, "mwrelease.runner.engine")]
    assert not broken, "planning modules doing I/O:\n" + "\n".join(f"  - {b}" for b in broken)


def test_no_module_over_400_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE.parent)): len(p.read_text(encoding="utf-8").splitlines())
             for p in MODULES.values()}
    assert set(LONG_ALLOWED) <= set(sizes), "an allowed long module is gone: update LONG_ALLOWED"
    long = sorted(((n, f) for f, n in sizes.items() if n > MAX_LINES and f not in LONG_ALLOWED), reverse=True)
    assert not long, f"{len(long)} module(s) over {MAX_LINES} lines (split by idea, see README 'Architecture'):\n" + \
        "\n".join(f"  - {f}: {n} lines" for n, f in long)


@pytest.mark.parametrize("bad", [
    Edge(source="mwrelease.upgrade.plan", target="mwrelease.runner.engine", where="made-up:1"),
    Edge(source="mwrelease.upgrade.inspect", target="mwrelease.release.build", where="made-up:1"),
    Edge(source="mwrelease.runner.cell", target="mwrelease.cli.test", where="made-up:1"),
    Edge(source="mwrelease.errors", target="mwrelease.lock", where="made-up:1"),
])
def test_the_wall_check_catches_a_made_up_import(bad: Edge) -> None:
    # The rules are only worth something if a violation is caught: each made-up edge breaks one wall.
    assert len(_walls_broken(EDGES + [bad])) == len(_walls_broken(EDGES)) + 1


def test_the_cycle_check_catches_a_made_up_cycle() -> None:
    bad = EDGES + [Edge(source="mwrelease.errors", target="mwrelease.cli", where="made-up:1")]
    assert any(e.source == "mwrelease.errors" for c in _cycles(bad) for e in c)
