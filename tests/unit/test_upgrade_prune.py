"""`mwrelease prune`: real upgrades of the stand-in wiki (see test_upgrade_execute.py), then prune; and the
choice of what to remove (``plan_prune``) on hand-written histories, without any disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mwrelease.errors import ConfigError, NothingToDo
from mwrelease.release.build import build_release
from mwrelease.release.channel import publish
from mwrelease.upgrade.execute import Options, upgrade
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.journal import Journal, load_history, mark_history
from mwrelease.upgrade.prune import BACKUP, DOWNLOAD, NEW_TREE, OLD_TREE, PARKED_TREE, measure, plan_prune, prune
from mwrelease.upgrade.rollback import rollback
from mwrelease.upgrade.statedir import state_dir_for
from mwrelease.upgrade.status import status
from tests.unit.helpers import fake_core, fake_lock, installed_wiki

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("1.39.1", "1.39.2", "1.39.3", "1.43.1")
needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")


def say(msg: str) -> None:
    print(msg)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("rel")
    ch = base / "channel"
    for v in VERSIONS:
        (full,) = build_release(fake_lock(v), fake_core(base / f"core-{v}", v), base / "out")
        publish(full.tarball, ch)
    return ch


def make_wiki(www: Path, channel: Path) -> Path:
    w = installed_wiki(www, channel, "1.39.1", ("Main Page", "Second"), "wfLoadExtension( 'Cite' );\n")
    (w / "images" / "a" / "ab").mkdir(parents=True)
    (w / "images" / "a" / "ab" / "Pic.png").write_bytes(b"\x89PNG fake" * 1000)  # hard-linked into every new tree
    return w


def upgrade_to(wiki: Path, channel: Path, *versions: str) -> list[str]:
    ids = []
    for v in versions:
        out = upgrade(Options(wiki=wiki, channel=str(channel), to=v, skip_http=True, allow_unsigned=True), say=say, confirm=lambda p: True)
        ids += [s["journal_id"] for s in out.stops]
    return ids


@pytest.fixture
def upgraded(tmp_path: Path, channel: Path) -> tuple[Path, list[str]]:
    """A directory-layout wiki taken 1.39.1 -> 1.39.2 -> 1.39.3 -> 1.43.1: three finished upgrades."""
    w = make_wiki(tmp_path / "www", channel)
    return w, upgrade_to(w, channel, "1.39.2", "1.39.3", "1.43.1")


def listing(*roots: Path) -> dict[str, int]:
    """Every path with its size, except logs (a killed run's update.php may still be writing its log)."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if "/logs/" not in p:
                    out[p] = os.lstat(p).st_size
    return out


def du(*paths: Path) -> list[int]:
    """`du -s` of each path in one run: a file hard-linked from an earlier argument counts there only."""
    r = subprocess.run(["du", "-s", "-B1", *map(str, paths)], capture_output=True, text=True, check=True)
    return [int(line.split("\t")[0]) for line in r.stdout.splitlines()]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=300)


# --- real upgrades, then prune -----------------------------------------------------------------

@needs_php
def test_prune_keeps_what_rollback_needs_and_removes_the_rest(upgraded: tuple[Path, list[str]]) -> None:
    wiki, (u1, u2, u3) = upgraded
    www, state = wiki.parent, state_dir_for(wiki)
    old = {v: www / f"wiki.mwrelease-old-{v}" for v in ("1.39.1", "1.39.2", "1.39.3")}
    assert all(p.is_dir() for p in old.values())
    downloads = sorted((state / "downloads").iterdir())
    assert [p.name for p in downloads] == [f"mediawiki-{v}.tar.gz" for v in VERSIONS[1:]]
    gone = [old["1.39.1"], old["1.39.2"], state / "backups" / u1, state / "backups" / u2, *downloads]
    stay = [wiki, old["1.39.3"], state / "backups" / u3]
    # What each removal frees, as du sees it with the kept paths counted first (the uploaded file is
    # hard-linked into every tree, so it frees nothing).
    expected = sum(du(*stay, *gone)[len(stay):])
    before = listing(www)
    history_before = (state / "history.json").read_text()

    dry = prune(wiki, keep=1, dry_run=True)
    assert listing(www) == before and (state / "history.json").read_text() == history_before
    assert dry["dry_run"] and sorted(r["path"] for r in dry["removals"]) == sorted(map(str, gone))
    assert dry["bytes_freed"] == expected

    done = prune(wiki, keep=1, say=say)
    assert sorted(r["path"] for r in done["removals"]) == sorted(map(str, gone))
    assert done["bytes_freed"] == expected == sum(r["bytes"] for r in done["removals"])
    assert {r["kind"] for r in done["removals"]} == {OLD_TREE, BACKUP, DOWNLOAD}
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in stay) and (state / "backups" / u3 / "backup.json").exists()
    assert done["rollback_possible"] and done["kept"][0]["upgrade"] == u3 and done["skipped"] == []
    assert (wiki / "images" / "a" / "ab" / "Pic.png").read_bytes() == b"\x89PNG fake" * 1000
    # The history says which runs were pruned, and status still reads it.
    hist = {h["id"]: h for h in load_history(state)}
    assert "pruned" in hist[u1] and "pruned" in hist[u2] and "pruned" not in hist[u3]
    assert [h["id"] for h in status(wiki, state_dir=None, channel=None)["history"]] == [u1, u2, u3]
    with pytest.raises(NothingToDo):
        prune(wiki, keep=1)

    # The kept old tree and backup are enough to roll the last upgrade back.
    rb = rollback(wiki, state_dir=None, say=say, skip_http=True)
    assert rb["version"] == "1.39.3" and inspect_wiki(wiki).core_version == "1.39.3"
    parked = www / "wiki.mwrelease-rolledback-1.43.1"
    assert parked.is_dir()
    # Now the parked 1.43.1 tree and the rolled-back upgrade's backup go; the newest upgrade still
    # standing (1.39.2 -> 1.39.3) was pruned already, which prune says.
    again = prune(wiki, keep=1)
    assert sorted(r["path"] for r in again["removals"]) == sorted([str(parked), str(state / "backups" / u3)])
    assert {r["kind"] for r in again["removals"]} == {PARKED_TREE, BACKUP}
    assert not parked.exists() and wiki.is_dir() and inspect_wiki(wiki).core_version == "1.39.3"
    assert not again["rollback_possible"] and any("cannot use it" in w for w in again["warnings"])


@needs_php
def test_keep_zero_and_keep_more_than_there_are(upgraded: tuple[Path, list[str]]) -> None:
    wiki, ids = upgraded
    state = state_dir_for(wiki)
    many = prune(wiki, keep=5, dry_run=True)
    assert {r["kind"] for r in many["removals"]} == {DOWNLOAD} and len(many["kept"]) == 3
    none = prune(wiki, keep=0)
    assert not any((wiki.parent / f"wiki.mwrelease-old-{v}").exists() for v in VERSIONS[:3])
    assert not any((state / "backups" / i).exists() for i in ids)
    assert none["kept"] == [] and not none["rollback_possible"]
    assert any("rollback` is now impossible" in w for w in none["warnings"])
    assert inspect_wiki(wiki).core_version == "1.43.1"


@needs_php
def test_symlink_layout(tmp_path: Path, channel: Path) -> None:
    wiki = make_wiki(tmp_path / "www", channel)
    releases = wiki.parent / "releases"
    releases.mkdir()
    wiki.rename(releases / "mediawiki-1.39.1")
    wiki.symlink_to(releases / "mediawiki-1.39.1")
    u1, u2 = upgrade_to(wiki, channel, "1.39.2", "1.43.1")
    assert os.readlink(wiki) == str(releases / "mediawiki-1.43.1")
    out = prune(wiki, keep=1)
    trees = [r["path"] for r in out["removals"] if r["kind"] == OLD_TREE]
    assert trees == [str(releases / "mediawiki-1.39.1")] and not (releases / "mediawiki-1.39.1").exists()
    assert (releases / "mediawiki-1.39.2").is_dir() and (releases / "mediawiki-1.43.1").is_dir()
    assert not (state_dir_for(wiki) / "backups" / u1).exists()
    rollback(wiki, state_dir=None, say=say, skip_http=True)
    assert os.readlink(wiki) == str(releases / "mediawiki-1.39.2") and inspect_wiki(wiki).core_version == "1.39.2"
    # The upgraded tree the rollback left behind is the symlink layout's parked tree.
    again = prune(wiki, keep=1)
    assert [r["path"] for r in again["removals"] if r["kind"] == PARKED_TREE] == [str(releases / "mediawiki-1.43.1")]
    assert (releases / "mediawiki-1.39.2").is_dir() and not (releases / "mediawiki-1.43.1").exists()


@needs_php
def test_interrupted_upgrade_blocks_prune_until_rolled_back(tmp_path: Path, channel: Path) -> None:
    wiki = make_wiki(tmp_path / "www", channel)
    upgrade_to(wiki, channel, "1.39.2", "1.39.3")
    r = cli("upgrade", "--allow-unsigned", "--wiki", str(wiki), "--channel", str(channel), "--to", "1.43.1", "--yes", "--no-http-check",
            env={"MWRELEASE_FAULT_KILL_AT": "update"})
    assert r.returncode == -9
    before = listing(wiki.parent)
    r = cli("prune", "--wiki", str(wiki))
    assert r.returncode == 3 and "mwrelease rollback" in r.stderr and "stopped during step 'update'" in r.stderr
    r = cli("prune", "--wiki", str(wiki), "--dry-run", "--json")
    env = json.loads(r.stdout)
    assert r.returncode == 3 and env["status"] == "error" and env["errors"][0]["kind"] == "config"
    assert listing(wiki.parent) == before
    assert cli("rollback", "--wiki", str(wiki), "--no-http-check").returncode == 0
    r = cli("prune", "--wiki", str(wiki))  # no terminal to ask on, no --yes: refused, nothing removed
    assert r.returncode == 3 and "--yes" in r.stderr and "Would remove" in r.stderr
    r = cli("prune", "--wiki", str(wiki), "--json", "--yes")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    # The older upgrade's tree and backup, the killed run's backup (its new tree was removed by the
    # rollback), and the downloads.
    assert sorted(x["kind"] for x in data["removals"]) == [BACKUP, BACKUP, DOWNLOAD, DOWNLOAD, DOWNLOAD, OLD_TREE]
    assert data["bytes_freed"] == sum(x["bytes"] for x in data["removals"]) > 0
    assert (wiki.parent / "wiki.mwrelease-old-1.39.2").is_dir() and inspect_wiki(wiki).core_version == "1.39.3"
    # Nothing to prune is success for cron; --exit-code makes it 10 for scripts that want to know.
    r = cli("prune", "--wiki", str(wiki), "--yes")
    assert r.returncode == 0 and r.stdout.startswith("Nothing to prune"), r.stderr
    r = cli("prune", "--wiki", str(wiki), "--yes", "--exit-code")
    assert r.returncode == 10, r.stderr
    r = cli("prune", "--wiki", str(wiki), "--json", "--exit-code")
    assert r.returncode == 10 and json.loads(r.stdout)["errors"][0]["kind"] == "nothing-to-do"


@needs_php
def test_running_upgrade_blocks_prune(upgraded: tuple[Path, list[str]]) -> None:
    wiki, _ = upgraded
    state = state_dir_for(wiki)
    j = Journal.start(state, wiki=wiki, layout="directory", from_version="1.43.1", to_version="1.43.2")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        j.data["pid"] = sleeper.pid
        j.save()
        with pytest.raises(ConfigError, match="running right now"):
            prune(wiki, keep=1)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (wiki.parent / "wiki.mwrelease-old-1.39.1").is_dir()
    # Its process is gone: now it is an interrupted upgrade, still refused.
    with pytest.raises(ConfigError, match="stopped during step 'start'.*run `mwrelease rollback --wiki"):
        prune(wiki, keep=1, dry_run=True)


@needs_php
def test_finished_journal_not_yet_in_history_is_filed(upgraded: tuple[Path, list[str]]) -> None:
    """Killed between writing the journal's end state and moving it to history.json: prune files it."""
    wiki, ids = upgraded
    state = state_dir_for(wiki)
    hist = json.loads((state / "history.json").read_text())
    last = hist["entries"].pop()
    (state / "history.json").write_text(json.dumps(hist))
    (state / "journal.json").write_text(json.dumps(last))
    dry = prune(wiki, keep=1, dry_run=True)
    assert (state / "journal.json").exists() and dry["kept"][0]["upgrade"] == ids[-1]
    prune(wiki, keep=1)
    assert not (state / "journal.json").exists()
    assert [h["id"] for h in load_history(state)] == ids
    assert (wiki.parent / "wiki.mwrelease-old-1.39.3").is_dir()
    assert not (wiki.parent / "wiki.mwrelease-old-1.39.2").exists()


@needs_php
def test_tampered_history_cannot_redirect_removal(upgraded: tuple[Path, list[str]], tmp_path: Path) -> None:
    wiki, ids = upgraded
    state = state_dir_for(wiki)
    victim = tmp_path / "victim"
    (victim / "includes").mkdir(parents=True)
    (victim / "index.php").write_text("<?php\n")
    hist = json.loads((state / "history.json").read_text())
    hist["entries"][0]["paths"]["aside"] = str(victim)  # outside the wiki's directory
    hist["entries"][1]["paths"]["aside"] = str(wiki)  # the wiki itself
    hist["entries"][1]["id"] = "../../../victim"
    (state / "history.json").write_text(json.dumps(hist))
    out = prune(wiki, keep=1)
    assert victim.is_dir() and inspect_wiki(wiki).core_version == "1.43.1"
    reasons = {r["path"]: r["skip"] for r in out["skipped"]}
    assert "not named" in reasons[str(victim)] and str(wiki) in reasons
    assert not any(r["path"].startswith(str(victim)) for r in out["removals"])


# --- the choice, without disk ------------------------------------------------------------------

W = Path("/srv/www/wiki")
ST = Path("/srv/www/.mwrelease")


def up(i: int, frm: str, to: str, *, state: str = "done", layout: str = "directory", wiki: Path = W,
       **paths: str) -> dict[str, Any]:
    p: dict[str, str] = {"old_tree": str(wiki), "backup": f"{ST}/backups/id{i}"}
    if layout == "directory":
        p.update(new_tree=f"{wiki.parent}/.{wiki.name}.mwrelease-new-{to}", aside=f"{wiki}.mwrelease-old-{frm}")
    p.update(paths)
    return {"id": f"id{i}", "wiki": str(wiki), "layout": layout, "from": frm, "to": to, "state": state, "paths": p}


def rb(i: int, of: str, frm: str, to: str, *, state: str = "done", **paths: str) -> dict[str, Any]:
    return {"id": f"rb{i}", "kind": "rollback", "rollback_of": of, "wiki": str(W), "layout": "directory",
            "from": frm, "to": to, "state": state,
            "paths": paths or {"parked": f"{W}.mwrelease-rolledback-{frm}"}}


def chosen(history: list[dict[str, Any]], keep: int, **kw: Any) -> list[tuple[str, str]]:
    return [(r.kind, r.path) for r in plan_prune(history, W, keep, state_dir=ST, **kw) if r.skip is None]


def skipped(history: list[dict[str, Any]], keep: int, **kw: Any) -> dict[str, str]:
    return {r.path: str(r.skip) for r in plan_prune(history, W, keep, state_dir=ST, **kw) if r.skip}


H3 = [up(1, "1.39.1", "1.39.2"), up(2, "1.39.2", "1.39.3"), up(3, "1.39.3", "1.43.1")]


def test_plan_keeps_the_newest_n() -> None:
    assert chosen(H3, 1) == [(OLD_TREE, f"{W}.mwrelease-old-1.39.1"), (BACKUP, f"{ST}/backups/id1"),
                             (OLD_TREE, f"{W}.mwrelease-old-1.39.2"), (BACKUP, f"{ST}/backups/id2")]
    assert chosen(H3, 2) == [(OLD_TREE, f"{W}.mwrelease-old-1.39.1"), (BACKUP, f"{ST}/backups/id1")]
    assert chosen(H3, 3) == chosen(H3, 9) == []
    assert [p for _, p in chosen(H3, 0)][-2:] == [f"{W}.mwrelease-old-1.39.3", f"{ST}/backups/id3"]
    with pytest.raises(ValueError):
        plan_prune(H3, W, -1)


def test_plan_failed_and_rolled_back_runs() -> None:
    failed = up(4, "1.43.1", "1.43.2", state="rolled-back")
    hist = H3 + [failed, rb(5, "id3", "1.43.1", "1.39.3")]
    # id3 was rolled back: the newest standing upgrade is id2, kept; id3 has only a backup left to remove
    # (its old tree is the wiki again), the rollback its parked tree, the failed run its new tree and backup.
    assert chosen(hist, 1) == [
        (OLD_TREE, f"{W}.mwrelease-old-1.39.1"), (BACKUP, f"{ST}/backups/id1"), (BACKUP, f"{ST}/backups/id3"),
        (NEW_TREE, f"{W.parent}/.wiki.mwrelease-new-1.43.2"), (BACKUP, f"{ST}/backups/id4"),
        (PARKED_TREE, f"{W}.mwrelease-rolledback-1.43.1")]


def test_plan_leaves_a_failed_rollback_alone() -> None:
    hist = H3 + [rb(5, "id2", "1.39.3", "1.39.2", state="failed")]
    # id2's rollback failed half way: id2 and the rollback's parked tree stay, id2 still counts as finished.
    assert chosen(hist, 1) == [(OLD_TREE, f"{W}.mwrelease-old-1.39.1"), (BACKUP, f"{ST}/backups/id1")]


def test_plan_skips_unsafe_paths() -> None:
    hist = [up(1, "1.35.1", "1.39.1", aside="/etc"),
            up(2, "1.39.1", "1.39.2", aside=f"{W}.mwrelease-old-x/../../../etc"),
            up(3, "1.39.2", "1.39.3", aside=str(W)),
            up(4, "1.39.3", "1.39.4", aside=f"{W}.mwrelease-old-1.39.9"),
            up(5, "1.39.9", "1.43.1", aside=f"{W}.mwrelease-old-1.39.9"),  # kept: reuses 4's path
            # not upgrades: no id, no paths, not even a dict
            {"id": "junk"}, "not a dict", {"wiki": str(W), "layout": "directory", "state": "done", "paths": 7},
            {"id": "x", "wiki": str(W), "layout": "directory", "state": "done", "paths": [f"{W}.mwrelease-old-1"]}]
    hist[1]["id"] = "../x"
    s = skipped(hist, 1)  # type: ignore[arg-type]
    assert "not named" in s["/etc"]
    assert "not a clean absolute path" in s[f"{W}.mwrelease-old-x/../../../etc"]
    assert "plain name" in s[f"{ST}/backups/id2"]
    assert "not named" in s[str(W)]
    assert "kept for rollback" in s[f"{W}.mwrelease-old-1.39.9"]
    assert chosen(hist, 1) == [(BACKUP, f"{ST}/backups/id1"), (BACKUP, f"{ST}/backups/id3"),  # type: ignore[arg-type]
                               (BACKUP, f"{ST}/backups/id4")]


def test_plan_symlink_layout_and_other_wikis() -> None:
    rel = f"{W.parent}/releases"
    hist = [up(3, "1.35.1", "1.39.1", layout="symlink", old_tree="/opt/mw/1.35.1"),  # outside the wiki's directory
            up(1, "1.39.1", "1.39.2", layout="symlink", old_tree=f"{rel}/mediawiki-1.39.1",
               new_tree=f"{rel}/mediawiki-1.39.2"),
            up(7, "1.39.1", "1.39.2", wiki=W.parent / "other"),
            up(8, "1.39.2", "1.39.3", wiki=W.parent / "other"),
            up(2, "1.39.2", "1.43.1", layout="symlink", old_tree=f"{rel}/mediawiki-1.39.2",
               new_tree=f"{rel}/mediawiki-1.43.1")]
    # Other wikis' entries are neither removed nor counted towards --keep.
    assert chosen(hist, 1) == [(BACKUP, f"{ST}/backups/id3"), (OLD_TREE, f"{rel}/mediawiki-1.39.1"),
                               (BACKUP, f"{ST}/backups/id1")]
    assert "outside the wiki's directory" in skipped(hist, 1)["/opt/mw/1.35.1"]
    # The wiki's link points at the tree the history calls old: never removed.
    assert f"{rel}/mediawiki-1.39.1" in skipped(hist, 1, wiki_target=f"{rel}/mediawiki-1.39.1")
    # Symlink rollback: the tree the link left is parked, if it is the new tree of the upgrade undone.
    back = {"id": "rb9", "kind": "rollback", "rollback_of": "id2", "wiki": str(W), "layout": "symlink",
            "from": "1.43.1", "to": "1.39.2", "state": "done",
            "paths": {"link_target_before": f"{rel}/mediawiki-1.43.1"}}
    assert (PARKED_TREE, f"{rel}/mediawiki-1.43.1") in chosen(hist + [back], 1)
    back["paths"] = {"link_target_before": f"{rel}/mediawiki-1.39.2"}
    assert "not the new tree" in skipped(hist + [back], 1)[f"{rel}/mediawiki-1.39.2"]


def test_measure_counts_shared_files_once_and_links_from_outside_not_at_all(tmp_path: Path) -> None:
    a, b, keep = tmp_path / "a", tmp_path / "b", tmp_path / "keep"
    for d in (a, b, keep):
        d.mkdir()
    (a / "own").write_bytes(b"x" * 100_000)
    (a / "shared").write_bytes(b"y" * 50_000)
    os.link(a / "shared", b / "shared")
    (a / "kept").write_bytes(b"z" * 70_000)
    os.link(a / "kept", keep / "kept")
    sizes = measure([str(a), str(b)])
    assert sizes == du(keep, a, b)[1:]
    assert sizes[0] > 150_000 and sizes[0] < 220_000 and sizes[1] < 50_000


def test_mark_history_touches_only_the_named_entries(tmp_path: Path) -> None:
    (tmp_path / "history.json").write_text(json.dumps({"format": "mwrelease.history/1", "entries": [
        {"id": "a", "wiki": "/w"}, {"id": "b", "wiki": "/w"}, {"id": "a", "wiki": "/other"}]}))
    assert mark_history(tmp_path, {"a"}, {"pruned": "T"}, wiki="/w") == 1
    assert load_history(tmp_path) == [{"id": "a", "wiki": "/w", "pruned": "T"}, {"id": "b", "wiki": "/w"},
                                      {"id": "a", "wiki": "/other"}]
    assert mark_history(tmp_path / "none", {"a"}, {"pruned": "T"}) == 0
