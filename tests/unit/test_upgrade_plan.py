from __future__ import annotations

import pytest

from mwrelease.errors import ConfigError, NothingToDo
from mwrelease.upgrade.plan import make_plan
from tests.unit.helpers import CITE43, IDX, MANIFESTS, ext, index, inst, manifest, release


def test_major_upgrade_keeps_compatible_extension_and_maps_bundled() -> None:
    plan = make_plan(inst("1.39.10", ext("Cite", ">= 1.39"), ext("MyExt", ">= 1.39.0")), IDX, MANIFESTS, line="1.43")
    assert plan.target == "1.43.5" and [s.version for s in plan.stops] == ["1.43.5"]
    fates = {e.name: e.fate for e in plan.extensions}
    assert fates == {"Cite": "bundled", "MyExt": "kept"}
    cite = next(e for e in plan.extensions if e.name == "Cite")
    assert (cite.old_version, cite.new_version, cite.new_ref) == ("1.0", "1.0.0-43", "REL1_43")
    assert "1.39.10 -> 1.43.5" in plan.render()


def test_incompatible_extension_stops_the_plan_with_its_name() -> None:
    i = inst("1.39.10", ext("OldExt", ">= 1.35 < 1.40"))
    with pytest.raises(ConfigError) as exc:
        make_plan(i, IDX, MANIFESTS, line="1.43")
    assert "OldExt" in exc.value.details[0] and "--disable-incompatible" in (exc.value.hint or "")
    plan = make_plan(i, IDX, MANIFESTS, line="1.43", disable_incompatible=True)
    assert [e.name for e in plan.disabled] == ["OldExt"]


def test_unloaded_incompatible_extension_does_not_block() -> None:
    plan = make_plan(inst("1.39.10", ext("OldExt", "< 1.40", loaded=False)), IDX, MANIFESTS, line="1.43")
    assert plan.extensions[0].fate == "not-loaded"


def test_extension_without_requirement_is_kept_with_warning() -> None:
    plan = make_plan(inst("1.39.10", ext("Bare")), IDX, MANIFESTS, line="1.43")
    assert plan.extensions[0].fate == "kept" and any("Bare" in w for w in plan.warnings)


def test_chain_1_35_to_1_43_stops_at_newest_1_39() -> None:
    plan = make_plan(inst("1.35.14", ext("MyExt", ">= 1.35")), IDX, MANIFESTS, to="1.43.5")
    assert [s.version for s in plan.stops] == ["1.39.11", "1.43.5"]


def test_chain_checks_extension_against_every_stop() -> None:
    with pytest.raises(ConfigError, match="cannot run on the new core"):
        make_plan(inst("1.35.14", ext("MyExt", ">= 1.40")), IDX, MANIFESTS, to="1.43.5")


def test_no_path_when_intermediate_missing() -> None:
    idx = index(release("1.35.14"), release("1.43.5"))
    with pytest.raises(ConfigError, match="cannot upgrade a 1.35 wiki directly"):
        make_plan(inst("1.35.14"), idx, {"1.43.5": manifest("1.43.5")}, to="1.43.5")


def test_minor_upgrade_default_line_uses_delta_when_tree_is_pristine() -> None:
    installed = manifest("1.43.4")
    plan = make_plan(inst("1.43.4", installed=installed), IDX, MANIFESTS)
    assert plan.target == "1.43.5" and plan.stops[0].delta_from == "1.43.4"
    plan2 = make_plan(inst("1.43.4", installed=installed, changes=("changed: api.php",)), IDX, MANIFESTS)
    assert plan2.stops[0].delta_from is None and plan2.local_changes == ("changed: api.php",)
    assert "    changed: api.php" in plan2.render().splitlines()


def test_already_current_and_downgrade() -> None:
    with pytest.raises(NothingToDo, match="already on"):
        make_plan(inst("1.39.11"), IDX, MANIFESTS)
    with pytest.raises(NothingToDo) as exc:
        make_plan(inst("1.39.11"), IDX, MANIFESTS)
    assert "--line 1.43" in (exc.value.hint or "")
    with pytest.raises(ConfigError, match="does not downgrade"):
        make_plan(inst("1.43.5"), IDX, MANIFESTS, to="1.43.4")
    with pytest.raises(ConfigError, match="no release 9.9"):
        make_plan(inst("1.43.5"), IDX, MANIFESTS, to="9.9")


def test_php_too_old_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs PHP") as exc:
        make_plan(inst("1.39.10", php="7.4.33"), IDX, MANIFESTS, line="1.43")
    assert "php is PHP 7.4.33" in exc.value.message and "--php php7.4 --php php8.2" in (exc.value.hint or "")


# A chain over a PHP switch: 1.35 and 1.39 accept PHP 7.4, 1.43 needs 8.1.
CHAIN = index(release("1.35.14", php=">=7.3.19"), release("1.39.10", php=">=7.4.3"), release("1.43.5"))
CHAIN_MANIFESTS = {v: manifest(v, CITE43) for v in ("1.39.10", "1.43.5")}


def test_each_stop_runs_on_the_first_php_its_release_accepts() -> None:
    phps = {"php7.4": "7.4.33", "php8.0": "8.0.30", "php8.2": "8.2.29", "php8.4": "8.4.1"}
    plan = make_plan(inst("1.35.14", php="7.4.33"), CHAIN, CHAIN_MANIFESTS, line="1.43", php_versions=phps)
    assert [(s.version, s.php, s.php_version) for s in plan.stops] == [("1.39.10", "php7.4", "7.4.33"),
                                                                     ("1.43.5", "php8.2", "8.2.29")]
    assert plan.switches_php and plan.php == "php7.4"
    assert "PHP switches here: php7.4 -> php8.2 (PHP 8.2.29)" in plan.render()
    # The current PHP is kept as long as the release accepts it.
    plan = make_plan(inst("1.39.10", php="8.2.29"), CHAIN, CHAIN_MANIFESTS, line="1.43",
                     php_versions={"php": "8.2.29", "php8.4": "8.4.1"})
    assert [s.php for s in plan.stops] == ["php"] and not plan.switches_php


def test_no_php_for_a_stop_names_the_intermediate_release() -> None:
    with pytest.raises(ConfigError, match="1.43.5 needs PHP >= 8.1.0") as exc:
        make_plan(inst("1.35.14", php="7.4.33"), CHAIN, CHAIN_MANIFESTS, line="1.43",
                  php_versions={"php7.4": "7.4.33", "php8.0": "8.0.30"})
    assert "php8.0 is PHP 8.0.30" in exc.value.message
    assert "--to 1.39.10" in (exc.value.hint or "")


def test_plan_json_shape() -> None:
    data = make_plan(inst("1.39.10"), IDX, MANIFESTS, line="1.43-lts", database_bytes=10_000_000).to_json()
    assert set(data) == {"from", "target", "stops", "extensions", "database", "estimated_read_only_seconds", "warnings",
                         "php", "php_version", "approvals", "local_changes"}
    assert set(data["stops"][0]) == {"version", "line", "artifact", "delta_from", "php", "php_version"}
    assert data["estimated_read_only_seconds"] > 15
