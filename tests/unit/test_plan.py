from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mwrelease.errors import ConfigError
from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.plan import lock_digest, parse_core, plan


def comp(name: str, requires: dict[str, Any] | None = None, kind: str = "extension") -> LockedComponent:
    return LockedComponent(name=name, kind=kind, ref="REL1_39", ref_type="branch", commit=None,  # type: ignore[arg-type]
                           version=None, source=Source(type="bundled"), catalog="test",
                           requires=requires or {})


def make_lock(*comps: LockedComponent, line: str = "1.39", version: str = "1.39.17") -> Lock:
    return Lock(bundle="b", flavor="tarball", core_version=version, core_line=line, php=("8.2",),
                databases=("sqlite",), components=comps)


def test_default_is_primary_cell_on_own_line() -> None:
    cells = plan(make_lock(comp("Cite", {"MediaWiki": ">= 1.39.0"})))
    assert [c.id for c in cells] == ["b@1.39-php8.2-sqlite"]
    (cell,) = cells
    assert cell.status == "planned" and cell.primary and cell.core == "1.39.17" and cell.components == ("Cite",)


def test_matrix_order_and_primary() -> None:
    cells = plan(make_lock(comp("Cite")), cores=["1.39", "1.43"], dbs=["sqlite", "mariadb"])
    assert [c.id for c in cells] == ["b@1.39-php8.2-sqlite", "b@1.39-php8.2-mariadb",
                                     "b@1.43-php8.4-sqlite", "b@1.43-php8.4-mariadb"]
    assert [c.primary for c in cells] == [True, False, False, False]
    assert cells[2].core == "1.43.0"


def test_cross_line_admitted_by_open_constraint() -> None:
    (cell,) = plan(make_lock(comp("Cite", {"MediaWiki": ">= 1.39.0"})), cores=["1.43"])
    assert cell.status == "planned" and not cell.reasons


def test_declared_incompatible_is_skipped_with_reason() -> None:
    lock = make_lock(comp("Cite", {"MediaWiki": ">= 1.39.0"}), comp("Old", {"MediaWiki": ">= 1.39.0 < 1.40"}))
    (cell,) = plan(lock, cores=["1.43.9"])
    assert cell.status == "skipped-incompatible" and not cell.runnable
    assert [r.code for r in cell.reasons] == ["incompatible-core"]
    assert "Old" in cell.reasons[0].message and "1.43.9" in cell.reasons[0].message


def test_php_requirement_checked() -> None:
    lock = make_lock(comp("New", {"MediaWiki": ">= 1.39", "platform": {"php": ">= 8.3"}}))
    cells = plan(lock, cores=["1.39", "1.43"])
    assert [c.status for c in cells] == ["skipped-incompatible", "planned"]
    assert cells[0].reasons[0].code == "incompatible-php"


def test_php_without_image_is_unavailable() -> None:
    cells = plan(make_lock(comp("Cite")), cores=["1.43"], php=["8.2", "8.4"])
    assert [(c.php, c.status) for c in cells] == [("8.2", "skipped-unavailable"), ("8.4", "planned")]
    assert cells[0].reasons[0].code == "no-image"
    (unknown,) = plan(make_lock(comp("Cite")), cores=["1.40"])
    assert unknown.status == "skipped-unavailable"


def test_unknown_db_and_bad_core_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="oracle"):
        plan(make_lock(comp("Cite")), dbs=["oracle"])
    with pytest.raises(ConfigError):
        parse_core("1.x")
    assert parse_core("1.43") == ("1.43", "1.43.0")
    assert parse_core("1.43.9") == ("1.43", "1.43.9")


def test_lock_digest_is_canonical_and_content_sensitive() -> None:
    lock = make_lock(comp("Cite"))
    assert lock_digest(lock) == lock_digest(Lock.from_json(lock.to_json()))
    assert lock_digest(lock) != lock_digest(replace(lock, core_version="1.39.18"))
    (cell,) = plan(lock)
    assert cell.lock_digest == lock_digest(lock)


def test_several_locks_get_distinct_ids() -> None:
    a = make_lock(comp("Cite"))
    b = make_lock(comp("Cite"), line="1.43", version="1.43.9")
    cells = plan([a, b], cores=["1.43"])
    assert len({c.id for c in cells}) == 2
    assert [c.primary for c in cells] == [False, True]
    with pytest.raises(ConfigError):
        plan([])


def test_plan_is_json_serialisable() -> None:
    import json

    (cell,) = plan(make_lock(comp("Cite")))
    data = json.loads(json.dumps(cell.to_json()))
    assert data["status"] == "planned" and data["lock_sha256"] == cell.lock_digest


def test_isolate_one_cell_per_component_with_its_requirements() -> None:
    lock = make_lock(comp("Echo"), comp("Thanks", {"MediaWiki": ">= 1.39", "extensions": {"Echo": "*"}}),
                     comp("Vector", kind="skin"))
    cells = plan(lock, isolate=True)
    assert [(c.id, c.only) for c in cells] == [
        ("b@1.39-php8.2-sqlite[Echo]", ("Echo",)),
        ("b@1.39-php8.2-sqlite[Thanks]", ("Echo", "Thanks")),
        ("b@1.39-php8.2-sqlite[Vector]", ("Vector",)),
    ]
    assert [c.name for c in cells[1].loaded] == ["Echo", "Thanks"] and cells[1].components == ("Echo", "Thanks")
    assert not any(c.primary for c in cells)
    # declared compatibility is judged on the isolated set only
    lock2 = make_lock(comp("Old", {"MediaWiki": "< 1.40"}), comp("New", {"MediaWiki": ">= 1.39"}))
    assert [c.status for c in plan(lock2, cores=["1.43"], isolate=True)] == ["skipped-incompatible", "planned"]
