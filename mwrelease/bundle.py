"""Bundle specs (``bundles/*.yaml``): load, validate against the published JSON Schema, report
every problem at once with file, line and key.

The schema ships as ``mwrelease/schema/bundle.schema.json`` (point your editor's YAML language
server at it). See ``bundles/`` for examples and README.md for every key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from mwrelease.errors import ConfigError
from mwrelease.lock import Kind, SmokeCheck

SourceType = Literal["bundled", "catalog", "git", "path", "tarball"]
RefPolicy = Literal["rel-branch", "tags", "any"]


@dataclass(frozen=True, kw_only=True)
class ComponentSource:
    type: SourceType = "catalog"
    url: str | None = None  # git URL or tarball URL
    path: str | None = None
    sha256: str | None = None

    @classmethod
    def parse(cls, raw: Any, *, base: Path) -> ComponentSource:
        if raw is None:
            return cls()
        if isinstance(raw, str):
            return cls(type=raw)  # type: ignore[arg-type]
        if "git" in raw:
            url = raw["git"]
            if not _is_url(url) and not Path(url).is_absolute():
                url = str((base / url).resolve())
            return cls(type="git", url=url)
        if "path" in raw:
            return cls(type="path", path=str((base / raw["path"]).resolve()))
        return cls(type="tarball", url=raw["tarball"], sha256=raw["sha256"])


def _is_url(s: str) -> bool:
    return "://" in s or s.startswith("git@")


@dataclass(frozen=True, kw_only=True)
class Component:
    name: str
    kind: Kind
    source: ComponentSource
    ref: str | None = None
    commit: str | None = None
    refs: RefPolicy = "any"
    version: str | None = None
    settings: str = ""
    load: bool = True
    smoke: tuple[SmokeCheck, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Bundle:
    name: str
    flavor: str
    description: str
    core_lines: tuple[str, ...]
    core_version: str | None
    php: tuple[str, ...]
    databases: tuple[str, ...]
    dependencies: Literal["auto", "explicit"]
    allow_cycles: bool
    components: tuple[Component, ...]
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def extensions(self) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.kind == "extension")

    @property
    def skins(self) -> tuple[Component, ...]:
        return tuple(c for c in self.components if c.kind == "skin")

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@lru_cache(maxsize=1)
def bundle_schema() -> dict[str, Any]:
    # A plain path, not importlib.resources (15 ms of start-up on every resolve: it imports tempfile and shutil);
    # pip always installs the package as files.
    text = (Path(__file__).parent / "schema" / "bundle.schema.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def load_bundle(path: Path) -> Bundle:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"Bundle file {path} does not exist.", hint="Bundles live in bundles/NAME.yaml.") from None
    return parse_bundle(text, origin=path)


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One problem of a bundle file, where CI can annotate it."""

    file: str
    line: int | None
    key: str | None
    message: str

    def render(self) -> str:
        return f"{self.file}:{self.line}: {self.key}: {self.message}" if self.line else f"{self.file}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


def _invalid(origin: Path, problems: list[Problem]) -> ConfigError:
    exc = ConfigError(f"{origin}: the bundle has {len(problems)} problem{'s' if len(problems) > 1 else ''}:",
                      details=[p.render() for p in problems],
                      hint="Every key is described in mwrelease/schema/bundle.schema.json and the README.")
    exc.problems = [p.to_json() for p in problems]
    return exc


def parse_bundle(text: str, *, origin: Path) -> Bundle:
    try:
        # One parse for both (yaml.safe_load is compose + construct_document); the nodes keep the lines.
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            dups = duplicate_keys(node, origin)  # before constructing: a merge key (<<) rewrites the nodes
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else str(origin)
        problem = getattr(exc, "problem", None) or str(exc)
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark:
            problem += f", {context} at line {cmark.line + 1}"
        err = ConfigError(f"{where}: the bundle is not valid YAML ({problem}).",
                          hint="Fix the YAML syntax at that line (indentation, a missing colon, an unclosed quote) and run again.")
        err.problems = [Problem(file=str(origin), line=mark.line + 1 if mark else None, key=None,
                                message=f"not valid YAML ({problem})").to_json()]
        raise err from None
    # YAML keeps the last of two equal keys without a word (two `Babel:` entries): refuse them first.
    if dups:
        raise _invalid(origin, dups)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a bundle must be a YAML mapping with at least name, core and extensions.")
    problems = check(data, node, origin)
    if problems:
        raise _invalid(origin, problems)
    return _build(data, origin)


def duplicate_keys(node: yaml.Node | None, origin: Path, path: tuple[str, ...] = ()) -> list[Problem]:
    """Every key given twice in one mapping, naming the lines of both."""
    out: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            name = str(k.value)
            line = k.start_mark.line + 1
            if name in first:
                out.append(Problem(file=str(origin), line=line, key=".".join((*path, name)),
                                   message=f"duplicate key {name!r} (lines {first[name]} and {line}); YAML would "
                                           "silently keep only the last"))
            else:
                first[name] = line
            out += duplicate_keys(v, origin, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += duplicate_keys(v, origin, (*path, str(i)))
    return out


def validate(data: Any, node: yaml.Node | None, origin: Path, schema: dict[str, Any] | None = None) -> list[str]:
    """Every schema violation, as 'file:line: key: what is wrong', in file order. ``schema``: another
    schema than the bundle's (which it may ``$ref`` by its ``$id``)."""
    return [p.render() for p in check(data, node, origin, schema)]


def check(data: Any, node: yaml.Node | None, origin: Path, schema: dict[str, Any] | None = None) -> list[Problem]:
    """Every schema violation, in file order."""
    bundle = bundle_schema()
    if schema is None:
        from mwrelease.schema_quick import check as quick_check

        if quick_check(bundle, data) is True:  # surely valid: no need to import jsonschema (0.2 s)
            return []
    import jsonschema
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resource(bundle["$id"], Resource.from_contents(bundle))
    validator = jsonschema.Draft202012Validator(schema or bundle, registry=registry)
    found: set[tuple[int, str, str]] = set()
    for err in validator.iter_errors(data):
        # For oneOf/anyOf, the best sub-error says more than "is not valid under any of the given schemas".
        best = jsonschema.exceptions.best_match([err])
        path = list(best.absolute_path)
        line = _line_of(node, path)
        key = ".".join(str(p) for p in path) or "(top level)"
        found.add((line, key, _message(best)))
    return [Problem(file=str(origin), line=line, key=key, message=msg) for line, key, msg in sorted(found)]


def _message(err: Any) -> str:
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} (allowed: {allowed})"
    if err.validator in ("oneOf", "anyOf") and "description" in err.schema:
        return f"{err.instance!r} is not valid: expected {err.schema['description']}"
    expected = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
    if err.validator == "type" and "string" in expected and isinstance(err.instance, (int, float)) \
            and not isinstance(err.instance, bool):
        # php: [8.2] and core: 1.43 are numbers to YAML (and 8.10 becomes 8.1).
        return (f"{err.message}: YAML reads an unquoted {err.instance!r} as a number; write it in quotes, "
                f"'{err.instance}'")
    return str(err.message)


def _line_of(node: yaml.Node | None, path: list[Any]) -> int:
    """1-based line of the deepest YAML node on ``path`` (the key's line for mappings)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == step:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _build(data: dict[str, Any], origin: Path) -> Bundle:
    base = origin.parent
    defaults = data.get("defaults") or {}
    components: list[Component] = []
    for key, kind in (("extensions", "extension"), ("skins", "skin")):
        for name, spec in (data.get(key) or {}).items():
            spec = spec or {}
            components.append(Component(
                name=name,
                kind=kind,  # type: ignore[arg-type]
                source=ComponentSource.parse(spec.get("source", defaults.get("source")), base=base),
                ref=spec.get("ref"),
                commit=spec.get("commit"),
                refs=spec.get("refs", defaults.get("refs", "any")),
                version=spec.get("version"),
                settings=spec.get("settings", ""),
                load=spec.get("load", True),
                smoke=tuple(SmokeCheck(name=s.get("name") or f"{name} smoke {i + 1}", wikitext=s["wikitext"], expect=s["expect"])
                            for i, s in enumerate(spec.get("smoke") or [])),
            ))
    core = data["core"]
    return Bundle(
        name=data["name"],
        flavor=data.get("flavor", ""),
        description=data.get("description", ""),
        core_lines=tuple(core["lines"]),
        core_version=core.get("version"),
        php=tuple(data.get("php") or ()),
        databases=tuple(data.get("databases") or ("sqlite",)),
        dependencies=data.get("dependencies", "auto"),
        allow_cycles=bool(data.get("allow-cycles", False)),
        components=tuple(components),
        path=origin,
        raw=data,
    )
