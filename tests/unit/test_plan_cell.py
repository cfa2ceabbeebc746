"""Pure helpers of runner.cell (the LocalSettings.php block, how a maintenance run is judged) and of
mwrelease.components (unpacking an untrusted tarball)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwrelease.lock import Lock, LockedComponent, Source
from mwrelease.runner.cell import DB_CAP_DROP, _judge_maintenance
from mwrelease.runner.engine import ExecResult
from mwrelease.runner.localsettings import local_settings_text
from mwrelease.runner.plan import plan


def comp(name: str, kind: str = "extension", settings: str = "", load: bool = True) -> LockedComponent:
    return LockedComponent(name=name, kind=kind, ref="REL1_43", ref_type="bundled", commit=None,  # type: ignore[arg-type]
                           version=None, source=Source(type="bundled"), catalog="t", settings=settings, load=load)


def test_local_settings_has_harness_then_load_lines_and_settings() -> None:
    lock = Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=(comp("Cite", settings="$wgCiteBookReferencing = true;"), comp("Vector", kind="skin"),
                            comp("Hidden", load=False)))
    (cell,) = plan(lock)
    text = local_settings_text(cell)
    assert text.index("$wgCacheDirectory") < text.index("wfLoadExtension( 'Cite' );")
    assert text.index("wfLoadExtension( 'Cite' );") < text.index("$wgCiteBookReferencing = true;")
    assert "wfLoadSkin( 'Vector' );" in text and "Hidden" not in text
    assert "$wgDebugLogGroups['exception']" in text


def test_isolated_cell_loads_only_its_set() -> None:
    lock = Lock(bundle="b", flavor="t", core_version="1.43.9", core_line="1.43", php=(), databases=("sqlite",),
                components=(comp("Cite"), comp("Poem")))
    cells = plan(lock, isolate=True)
    assert "Poem" not in local_settings_text(cells[0]) and "Cite" in local_settings_text(cells[0])


def test_judge_maintenance() -> None:
    def r(code: int, out: str = "", timed_out: bool = False) -> ExecResult:
        return ExecResult(exit_code=code, output=out, duration=3.0, timed_out=timed_out)

    assert _judge_maintenance("update.php", r(0, "Done in 2.3 s."))[0] == "passed"
    status, msg, _ = _judge_maintenance("update.php", r(124, "...", timed_out=True))
    assert status == "failed" and "timeout" in msg
    assert _judge_maintenance("update.php", r(255, "PHP Fatal error: x"))[0] == "failed"
    assert _judge_maintenance("update.php", r(0, "PHP Fatal error: x"))[0] == "failed"


def test_database_container_keeps_only_what_servers_need() -> None:
    assert "SETUID" not in DB_CAP_DROP and "NET_RAW" in DB_CAP_DROP and "MKNOD" in DB_CAP_DROP


def test_safe_extract_refuses_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import tarfile


    from mwrelease.errors import SourceError
    from mwrelease import components

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    for with_filters in (True, False):
        if not with_filters:
            monkeypatch.delattr(tarfile, "data_filter", raising=False)
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar, pytest.raises((SourceError, tarfile.TarError)):
            components.safe_extract(tar, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
