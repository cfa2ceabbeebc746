"""Issue 12, finding 7: no tracebacks. Whatever a channel index, a release manifest, the journal, the history
or LocalSettings.php holds, `upgrade`, `rollback`, `prune` and `status` end with one of the documented errors
(an MwreleaseError with a code in EXIT_CODES) or succeed; and when they refuse, nothing on disk changed.

Each example runs on a fresh copy of a small stand-in wiki (tests/fixtures/upgrade/fakemw) with its own state
directory; the example counts are small so the module runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mwrelease.errors import EXIT_CODES, MwreleaseError
from mwrelease.release.build import build_release
from mwrelease.release.channel import ChannelClient, publish
from mwrelease.upgrade.execute import Options, upgrade
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.journal import JOURNAL_FORMAT
from mwrelease.upgrade.prune import prune
from mwrelease.upgrade.rollback import rollback
from mwrelease.upgrade.status import status
from tests.unit.helpers import fake_core, fake_lock, installed_wiki

pytestmark = pytest.mark.skipif(shutil.which("php") is None, reason="needs the php command line (php-cli)")
FEW = settings(max_examples=8, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# JSON values, never an absolute path (a journal's paths are acted on when the journal is well formed).
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=20).filter(lambda s: not s.startswith("/")))
json_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
# Raw text that the JSON parser meets: the findings' cases, and random bytes.
DEEP = "[" * 100_000 + "]" * 100_000
BIG_INT = "9" * 5000
HUGE = "1e999"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz")
    ch = base / "channel"
    for v in ("1.39.1", "1.43.1"):
        (full,) = build_release(fake_lock(v), fake_core(base / f"core-{v}", v), base / "out")
        publish(full.tarball, ch)
    installed_wiki(base / "www", ch, "1.39.1", ("Main Page",), "")
    (base / "state").mkdir(mode=0o700)
    return base


@contextmanager
def fresh(template: Path) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="mwr-fuzz-"))
    try:
        shutil.copytree(template, d / "t", symlinks=True)
        os.chmod(d / "t" / "state", 0o700)
        yield d / "t"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    out: dict[str, tuple[int, bytes | str]] = {}
    for dirpath, dirnames, files in os.walk(root):
        for n in dirnames + files:
            p = os.path.join(dirpath, n)
            if n == "lock" or "/logs" in p:  # the run's lock file, and its log
                continue
            st_ = os.lstat(p)
            body: bytes | str = os.readlink(p) if os.path.islink(p) else \
                (open(p, "rb").read() if os.path.isfile(p) else b"")
            out[p] = (st_.st_mode, body)
    return out


def outcome(run: Callable[[], Any], root: Path) -> None:
    """``run`` succeeds, or raises a documented error and leaves ``root`` as it was."""
    before = snapshot(root)
    try:
        run()
    except MwreleaseError as exc:
        assert exc.exit_code in EXIT_CODES, exc
        assert snapshot(root) == before, f"changed on disk though it failed: {exc.message}"


def _write_private(p: Path, data: bytes) -> None:
    p.write_bytes(data)
    os.chmod(p, 0o600)


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else (v if isinstance(v, str) else json.dumps(v)).encode()


def _opts(t: Path, **kw: Any) -> Options:
    return Options(wiki=t / "www" / "wiki", channel=str(t / "channel"), line="1.43", skip_http=True,
                   state_dir=t / "state", **kw)


# --- channel index and manifests -----------------------------------------------------------------

@FEW
@given(st.one_of(json_values, st.binary(max_size=200)))
@example(DEEP)
@example(json.dumps({"format": "mwrelease.channel/1", "lines": {"1.43": {"line": "1.43", "releases": [
    {"version": "1.43.1", "upgrades_from": [], "manifest": {"file": "m", "sha256": "0"},
     "artifacts": [{"kind": "full", "file": "f", "sha256": "0", "size": 1}]}]}}}).replace('"size": 1', f'"size": {HUGE}'))
@example('{"format": "mwrelease.channel/1", "lines": {"x": {"line": "x", "releases": [{"version": "1", '
         f'"upgrades_from": [], "manifest": {{"file": "m", "sha256": "0"}}, "artifacts": [{{"kind": "full", '
         f'"file": "f", "sha256": "0", "size": {BIG_INT}}}]}}]}}}}}}')
@example({"format": "mwrelease.channel/1", "lines": []})
def test_any_channel_index(template: Path, data: Any) -> None:
    with fresh(template) as t:
        _write_private(t / "channel" / "index.json", _as_bytes(data))
        outcome(lambda: ChannelClient(str(t / "channel")).index(), t)
        if isinstance(data, str) and data.startswith("{"):  # the findings' cases, through the whole command
            outcome(lambda: upgrade(_opts(t), say=lambda m: None, confirm=lambda p: True), t)


def _mutations(doc: dict[str, Any]) -> st.SearchStrategy[Any]:
    keys = sorted(doc)
    options = [
        json_values,
        st.builds(lambda k, v: {**doc, k: v}, st.sampled_from(keys), json_values),
        st.builds(lambda k: {kk: vv for kk, vv in doc.items() if kk != k}, st.sampled_from(keys)),
    ]
    if "files" in doc:
        options += [
            st.builds(lambda v: {**doc, "files": doc["files"][:3] + [v]}, json_values),
            st.builds(lambda size: {**doc, "files": [{**doc["files"][0], "size": size}] + doc["files"][1:]},
                      st.one_of(st.integers(), st.floats(), st.text(max_size=5))),
        ]
    return st.one_of(*options)


MANIFEST_NAME = "mediawiki-1.43.1.manifest.json"


@pytest.fixture(scope="module")
def manifest_doc(template: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((template / "channel" / MANIFEST_NAME).read_text())
    return doc


@FEW
@given(data=st.data())
@example(data=None)
def test_any_manifest(template: Path, manifest_doc: dict[str, Any], data: Any) -> None:
    raw = (DEEP.encode() if data is None else _as_bytes(data.draw(_mutations(manifest_doc))))
    with fresh(template) as t:
        ch = t / "channel"
        (ch / MANIFEST_NAME).write_bytes(raw)
        index = json.loads((ch / "index.json").read_text())  # the index names the tampered manifest's hash
        for line in index["lines"].values():
            for r in line["releases"]:
                if r["manifest"]["file"] == MANIFEST_NAME:
                    r["manifest"]["sha256"] = hashlib.sha256(raw).hexdigest()
        (ch / "index.json").write_text(json.dumps(index))
        outcome(lambda: ChannelClient(str(ch)).manifest(MANIFEST_NAME, hashlib.sha256(raw).hexdigest()), t)
        if data is None:
            outcome(lambda: upgrade(_opts(t), say=lambda m: None, confirm=lambda p: True), t)


# --- journal and history -------------------------------------------------------------------------

def _journal(t: Path) -> dict[str, Any]:
    return {"format": JOURNAL_FORMAT, "id": "20260101T000000Z-1.39.1-to-1.43.1", "pid": 1, "host": "elsewhere",
            "wiki": str(t / "www" / "wiki"), "layout": "directory", "from": "1.39.1", "to": "1.43.1",
            "state": "running", "paths": {}, "steps": [{"name": "download", "status": "started"}]}


@FEW
@given(data=st.data())
@example(data="list")
@example(data="no-steps")
@example(data="deep")
@example(data="huge-pid")
def test_any_journal(template: Path, data: Any) -> None:
    with fresh(template) as t:
        j = _journal(t)
        if data == "list":
            doc: Any = [j]
        elif data == "no-steps":
            doc = {k: v for k, v in j.items() if k != "steps"}
        elif data == "deep":
            doc = DEEP
        elif data == "huge-pid":
            doc = json.dumps({**j, "update_pid": 0}).replace('"update_pid": 0', f'"update_pid": {BIG_INT}')
        else:
            doc = data.draw(_mutations(j))
        _write_private(t / "state" / "journal.json", _as_bytes(doc))
        wiki = t / "www" / "wiki"
        outcome(lambda: prune(wiki, state_dir=t / "state"), t)
        outcome(lambda: rollback(wiki, state_dir=t / "state", say=lambda m: None, skip_http=True), t)


@FEW
@given(data=st.data())
@example(data="damaged")
@example(data="deep")
@example(data="entries-not-list")
def test_any_history(template: Path, data: Any) -> None:
    with fresh(template) as t:
        entry = {**_journal(t), "state": "done", "finished": "2026-01-01T00:00:00Z",
                 "paths": {"backup": str(t / "state" / "backups" / "x"), "aside": str(t / "www" / "gone")}}
        good = {"format": "mwrelease.history/1", "entries": [entry]}
        if data == "damaged":
            doc: Any = json.dumps(good)[:57]
        elif data == "deep":
            doc = DEEP
        elif data == "entries-not-list":
            doc = {**good, "entries": {"a": 1}}
        else:
            doc = data.draw(st.one_of(_mutations(good), st.builds(lambda e: {**good, "entries": [e]},
                                                                  _mutations(entry))))
        _write_private(t / "state" / "history.json", _as_bytes(doc))
        wiki = t / "www" / "wiki"
        outcome(lambda: prune(wiki, state_dir=t / "state"), t)
        outcome(lambda: rollback(wiki, state_dir=t / "state", say=lambda m: None, skip_http=True), t)


# --- LocalSettings.php ---------------------------------------------------------------------------

@FEW
@given(st.binary(max_size=300))
@example(b"\x00\xff\xfe<?php \x80\x81 $wgDBtype = 'sqlite';\n")
@example(b"<?php\n$wgSitename = '" + b"\xff" * 50 + b"';\nwfLoadExtension( '\xc3' );\n")
@example(b"<?php echo '\xff\xfe';\n")
def test_any_localsettings(template: Path, raw: bytes) -> None:
    with fresh(template) as t:
        wiki = t / "www" / "wiki"
        text = (wiki / "LocalSettings.php").read_bytes()
        (wiki / "LocalSettings.php").write_bytes(raw if raw.startswith(b"\x00") or len(raw) % 2 else text + raw)
        outcome(lambda: inspect_wiki(wiki), t)
        if len(raw) % 3 == 0:
            outcome(lambda: upgrade(_opts(t, dry_run=True), say=lambda m: None, confirm=lambda p: True), t)
