"""One cell, end to end: the only place where a test plan meets the container engine.

Steps (each a named check, so a broken step explains itself and the later ones show as skipped):

    image          the core image for the cell's line (built once, content-keyed: runner.images)
    database       MariaDB/PostgreSQL in a second container; the wiki container joins its network
                   namespace (loopback only, both --network none)
    install        maintenance/install.php, or the restored snapshot of an earlier install (SQLite)
    place          each component's tree at its locked ref: bundled = already in the image (or, for a
                   lock of another line, the tree of the core the lock was resolved from); git = a
                   checkout of the ref made on the host; path = the directory; tarball = unpacked
    localsettings  the harness block, then wfLoadExtension/wfLoadSkin and the component's settings
    update.php     maintenance/update.php --quick
    server         php -S on the container's loopback
    ...checks      see runner.checks

Containers run with no network, every capability dropped (the database container gets back only
what its server needs to drop privileges), memory and process limits, a timeout on every step, and are
removed when the cell ends, whatever happens (also on Ctrl-C), unless ``keep``.

Warm cells: the first SQLite install on an image is saved on the host (``snapshot_dir``, keyed by the
image id) as a tar of the SQLite directory and LocalSettings.php; later cells on that image restore
it instead of running install.php.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mwrelease.cachedir import user_cache_dir
from mwrelease.errors import EngineError, MwreleaseError, SourceError
from mwrelease.lock import LockedComponent
from mwrelease.runner.checks import HARNESS_SETTINGS, Blamer, CheckContext, Manifest, read_manifests, run_checks
from mwrelease.runner.engine import Container, Engine, ExecResult
from mwrelease.runner.plan import Cell
from mwrelease.runner.results import CellResult, CheckResult, CheckStatus, excerpt

log = logging.getLogger("mwrelease.cell")

# Docker's default capability set. The wiki container drops all of them; a database container keeps
# what its server needs to switch to its own user (mariadbd --user=mysql, pg_ctlcluster, runuser).
DOCKER_DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                       "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")
WIKI_CAP_DROP = ("ALL",)
DB_CAPS_KEPT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "AUDIT_WRITE")
DB_CAP_DROP = tuple(c for c in DOCKER_DEFAULT_CAPS if c not in DB_CAPS_KEPT)

SNAPSHOT_VERSION = "1"


@dataclass(frozen=True, kw_only=True)
class CellOptions:
    keep: bool = False
    install_timeout: float = 300
    update_timeout: float = 600
    request_timeout: float = 120
    mem_limit: str = "2g"
    pids_limit: int = 512
    snapshot_dir: Path | None = None  # None: no snapshots (every cell installs)
    workdir: Path | None = None       # where host-side checkouts go (default: a temp dir)


@dataclass(kw_only=True)
class _Run:
    cell: Cell
    checks: list[CheckResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    on_step: Callable[[str, CheckResult], None] | None = None
    failed: str | None = None  # the step that broke the setup
    manifests: dict[str, Manifest] = field(default_factory=dict)

    @property
    def blamer(self) -> Blamer:
        loaded = self.cell.loaded
        default = loaded[0].name if self.cell.only and len(loaded) == 1 else None
        return Blamer(self.cell.components, self.manifests, default)

    def add(self, r: CheckResult) -> None:
        self.checks.append(r)
        if self.on_step:
            self.on_step(self.cell.id, r)

    def step(self, name: str, fn: Callable[[], tuple[CheckStatus, str, str]]) -> bool:
        """Run a setup step as a check; False (and later steps skipped) when it did not pass."""
        if self.failed:
            self.add(CheckResult(name=name, status="skipped", message=f"skipped: {self.failed} failed"))
            return False
        start = time.monotonic()
        culprit: str | None = None
        try:
            status, message, text = fn()
        except MwreleaseError as exc:  # engine trouble, an unreadable source, a checksum mismatch
            status, message, text = "error", exc.message, "\n".join([*exc.details, exc.hint or ""]).strip()
            culprit = getattr(exc, "component", None)
        duration = time.monotonic() - start
        self.timings[name] = self.timings.get(name, 0.0) + duration
        hit = (culprit or self.blamer.culprit(text + "\n" + message)) if status != "passed" else None
        blame = (hit,) if hit else ()
        self.add(CheckResult(name=name, status=status, duration=duration, message=message, log=excerpt(text),
                             blame=blame))
        if status != "passed":
            self.failed = name
            return False
        return True


def run_cell(cell: Cell, engine: Engine, *, options: CellOptions = CellOptions(),
             on_step: Callable[[str, CheckResult], None] | None = None) -> CellResult:
    """Run ``cell`` and return its result. Never raises for a failure of the software under test;
    raises EngineError only when the engine itself is unusable, and KeyboardInterrupt passes through."""
    if not cell.runnable:
        return CellResult.for_cell(cell)
    from mwrelease.runner import images
    from mwrelease.runner import mediawiki as mw

    started = time.monotonic()
    run = _Run(cell=cell, on_step=on_step)
    image_tag = ""
    facts: dict[str, Any] = {}
    warm = False

    def build_image() -> tuple[CheckStatus, str, str]:
        nonlocal image_tag
        built = images.core_image(engine, cell.core_line)
        image_tag = built.tag
        return "passed", f"{built.tag} ({'cached' if built.cached else f'built in {built.seconds:.0f} s'})", ""

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="mwrelease-cell-", dir=options.workdir) as tmp:
        run.step("image", build_image)
        container: Container | None = None
        database: mw.Database | None = None
        network_mode = "none"
        if cell.db != "sqlite" and not run.failed:
            def start_db() -> tuple[CheckStatus, str, str]:
                nonlocal database, network_mode
                db_img = images.db_image(engine, "mariadb" if cell.db == "mariadb" else "postgres")
                dbc = stack.enter_context(engine.container(
                    db_img.tag, keep=options.keep, mem_limit=options.mem_limit, pids_limit=options.pids_limit,
                    cap_drop=DB_CAP_DROP, labels={"mwrelease.cell": cell.id, "mwrelease.role": "db"}))
                database = mw.start_database(dbc, "mariadb" if cell.db == "mariadb" else "postgres")
                network_mode = dbc.peer_network_mode
                return "passed", f"{cell.db} {database.version}", ""
            run.step("database", start_db)
        if not run.failed:
            def start_container() -> tuple[CheckStatus, str, str]:
                nonlocal container, facts
                container = stack.enter_context(engine.container(
                    image_tag, network_mode=network_mode, keep=options.keep, mem_limit=options.mem_limit,
                    pids_limit=options.pids_limit, cap_drop=WIKI_CAP_DROP,
                    labels={"mwrelease.cell": cell.id, "mwrelease.role": "wiki"}))
                facts = mw.image_facts(container)
                return "passed", f"MediaWiki {facts.get('mediawiki_version')} on PHP {facts.get('php_version')}", ""
            run.step("container", start_container)

        wiki: mw.Wiki | None = None

        def install() -> tuple[CheckStatus, str, str]:
            nonlocal wiki, warm
            assert container is not None
            snap = _snapshot_path(options, engine, image_tag) if database is None else None
            if snap is not None and snap.is_file():
                wiki = _restore_snapshot(container, snap)
                warm = True
                return "passed", f"restored the installed wiki from {snap.name}", ""
            try:
                wiki = mw.install_wiki(container, database=database, timeout=options.install_timeout)
            except EngineError as exc:
                return "failed", f"install.php failed: {exc.message}", "\n".join(exc.details)
            if snap is not None:
                _save_snapshot(container, wiki, snap)
            return "passed", f"install.php in {wiki.install_seconds:.1f} s", ""
        run.step("install", install)

        def place() -> tuple[CheckStatus, str, str]:
            assert container is not None and wiki is not None
            notes = []
            for c in cell.loaded:
                try:
                    notes.append(place_component(container, wiki.path, c, cell, Path(tmp)))
                except MwreleaseError as exc:
                    exc.component = c.name  # type: ignore[attr-defined]  # read by _Run.step for the blame
                    raise
            run.manifests = read_manifests(container, wiki, cell.loaded)
            missing = [m.name for m in run.manifests.values() if not m.present or m.error]
            if missing:
                return ("failed", f"no readable extension.json/skin.json for {', '.join(missing)}",
                        "\n".join(f"{m.name}: {m.error or 'missing'}" for m in run.manifests.values() if m.name in missing))
            return "passed", "; ".join(n for n in notes if n) or "all bundled", ""
        run.step("place", place)

        def settings() -> tuple[CheckStatus, str, str]:
            assert container is not None and wiki is not None
            text = local_settings_text(cell)
            _disable_installer_skins(container, wiki, cell)
            mw.append_local_settings(container, wiki, text)
            container.exec(["mkdir", "-p", "/var/lib/mwtest/cache", "/var/log/mwtest"], timeout=10, quiet=True).check()
            lint = container.exec(["php", "-l", wiki.local_settings], timeout=30, quiet=True)
            if not lint.ok:
                return "failed", "LocalSettings.php does not parse", lint.output
            return "passed", f"{len(cell.loaded)} load lines", text
        run.step("localsettings", settings)

        l10n = _l10n_path(options, engine, image_tag, cell)
        if l10n is not None and l10n.is_file() and not run.failed and container is not None:
            # The localisation cache of an earlier cell with the same image and lock: building it is
            # the first request's biggest cost. MediaWiki checks the message files' mtimes against it
            # and rebuilds what changed, so a stale copy costs time, never correctness.
            t0 = time.monotonic()
            with tarfile.open(l10n) as tar, tempfile.TemporaryDirectory() as d:
                safe_extract(tar, Path(d))
                container.put_tree(Path(d), L10N_DIR)
            run.timings["l10n-restore"] = time.monotonic() - t0
            warm = True

        def update() -> tuple[CheckStatus, str, str]:
            assert container is not None and wiki is not None
            r = mw.run_maintenance(container, "update", ["--quick"], wiki=wiki, check=False,
                                   timeout=options.update_timeout)
            return _judge_maintenance("update.php", r)
        run.step("update.php", update)

        def server() -> tuple[CheckStatus, str, str]:
            assert container is not None and wiki is not None
            mw.start_server(container, wiki)
            return "passed", wiki.server, ""
        run.step("server", server)

        if not run.failed:
            assert container is not None and wiki is not None
            cstart = time.monotonic()
            ctx = CheckContext(container=container, wiki=wiki, lock=cell.lock, timeout=options.request_timeout,
                               names=frozenset(cell.components), components=cell.loaded,
                               default_blame=run.blamer.default)
            ctx.manifests = run.manifests
            run_checks(ctx, on_check=run.add)
            run.timings["checks"] = time.monotonic() - cstart
            if l10n is not None and not l10n.is_file():
                try:
                    _save_tree(container, L10N_DIR, l10n)
                except EngineError as exc:
                    log.warning("could not save the localisation cache: %s", exc.message)
        else:
            for name in ("siteinfo", "special-version", "smoke", "edit-readback", "load.php", "php-errors"):
                run.add(CheckResult(name=name, status="skipped", message=f"skipped: {run.failed} failed"))
        if run.failed and container is not None and run.failed not in ("image", "container"):
            _attach_logs(run, container)

    return CellResult.for_cell(cell, run.checks, image=image_tag or None,
                               mediawiki_version=str(facts.get("mediawiki_version") or "") or None,
                               php_version=str(facts.get("php_version") or "") or None,
                               duration=time.monotonic() - started, timings=run.timings, warm=warm)


def _judge_maintenance(what: str, r: ExecResult) -> tuple[CheckStatus, str, str]:
    if r.timed_out:
        return "failed", f"{what} did not finish within {r.duration:.0f} s and was killed (timeout)", r.output
    if r.exit_code != 0:
        return "failed", f"{what} exited with {r.exit_code}", r.output
    # update.php prints a caught exception and may still exit 0 on old cores.
    if "Fatal error" in r.output or "Exception" in r.output and "[exception]" in r.output:
        return "failed", f"{what} reported an error", r.output
    return "passed", f"{r.duration:.1f} s", ""


def _attach_logs(run: _Run, container: Container) -> None:
    """When setup broke, put the PHP logs on the failed step too: they usually say why."""
    from mwrelease.runner.checks import _tail_logs

    tail = _tail_logs(container)
    if not tail:
        return
    for i, c in enumerate(run.checks):
        if c.name == run.failed:
            hit = run.blamer.culprit(tail)
            blame = c.blame or ((hit,) if hit else ())
            run.checks[i] = replace(c, log=excerpt(c.log + "\n--- PHP logs ---\n" + tail), blame=blame)


def _disable_installer_skins(container: Container, wiki: Any, cell: Cell) -> None:
    """install.php enables every skin it finds (a wfLoadSkin line each). Comment out those the lock
    has but this cell does not load (isolated cells), so that a broken skin cannot leak into them."""
    unwanted = {c.name for c in cell.lock.components if c.kind == "skin"} - {c.name for c in cell.loaded}
    if not unwanted:
        return
    text = container.get_file(wiki.local_settings).decode()
    lines = []
    for line in text.splitlines():
        m = re.match(r"\s*wfLoadSkin\(\s*'([^']+)'\s*\);", line)
        lines.append(f"# mwrelease (isolated cell): {line}" if m and m.group(1) in unwanted else line)
    directory, _, name = wiki.local_settings.rpartition("/")
    container.put_files(directory, {name: ("\n".join(lines) + "\n").encode()})


def local_settings_text(cell: Cell) -> str:
    parts = [HARNESS_SETTINGS]
    for c in cell.loaded:
        parts.append(f"# {c.name} {c.ref or ''} ({c.source.type})\n{c.load_line}\n")
        if c.settings.strip():
            parts.append(c.settings.rstrip("\n") + "\n")
    return "\n".join(parts)


# --- putting trees in place -----------------------------------------------------------------------

def place_component(container: Container, ip: str, comp: LockedComponent, cell: Cell, tmp: Path) -> str:
    """Make ``$IP/extensions/NAME`` (or ``skins/NAME``) hold the component at its locked ref.
    Returns a note for the log ("" when the image's bundled copy is used)."""
    sub = "skins" if comp.kind == "skin" else "extensions"
    dest = f"{ip}/{sub}/{comp.name}"
    src: Path | None = None
    note = ""
    if comp.source.type == "bundled":
        if cell.core_line == cell.lock.core_line:
            return ""
        src = _bundled_tree(comp)
        note = f"{comp.name} from {src}"
    elif comp.source.type == "path":
        if not comp.source.path:
            raise SourceError(f"{comp.name} has a path source without a path.")
        src = Path(comp.source.path)
        note = f"{comp.name} from {src}"
    elif comp.source.type == "git":
        src = git_checkout(comp, tmp)
        note = f"{comp.name} {comp.ref}@{(comp.commit or '')[:10]}"
    elif comp.source.type == "tarball":
        src = unpack_tarball(comp, tmp)
        note = f"{comp.name} from {comp.source.url}"
    assert src is not None
    if not src.is_dir():
        raise SourceError(f"The tree of {comp.name} ({src}) does not exist.")
    # Debian's $IP/extensions/NAME is a symlink into extensions-core: remove the link, not its target.
    container.exec(["rm", "-rf", dest], timeout=60, quiet=True).check()
    container.put_tree(src, dest)
    return note


def _bundled_tree(comp: LockedComponent) -> Path:
    """A ``bundled`` component of a lock made for another core line: take it from the core tree the
    lock was resolved from (``catalog: core:DIR``), since the image's own bundled copy is another ref."""
    if not comp.catalog.startswith("core:"):
        raise SourceError(f"{comp.name} is bundled with MediaWiki {comp.ref}, but this cell runs another core "
                          "line and the lock does not say which core tree it came from.",
                          hint="Resolve the lock with --catalog core:DIR, or give the component a path/git source.")
    root = Path(comp.catalog.removeprefix("core:"))
    sub = ["skins"] if comp.kind == "skin" else ["extensions-core", "extensions"]
    for s in sub:
        if (root / s / comp.name).is_dir():
            return root / s / comp.name
    raise SourceError(f"{comp.name} is not in the core tree {root} the lock was resolved from.",
                      hint="Run ci/fetch-core-trees.sh to unpack the core trees under .cache/cores.")


def git_checkout(comp: LockedComponent, tmp: Path) -> Path:
    """The component's tree at its locked commit (or ref), checked out on the host without .git."""
    url = comp.source.url
    if not url:
        raise SourceError(f"{comp.name} has a git source without a URL.")
    dest = tmp / "git" / comp.name
    want = comp.commit or comp.ref or "HEAD"

    def git(*args: str, cwd: Path | None = None) -> None:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        if r.returncode != 0:
            raise SourceError(f"git {' '.join(args[:2])} for {comp.name} failed: {r.stderr.strip()}",
                              hint=f"Check that {url} is reachable and has {want}.")

    git("clone", "--quiet", "--no-checkout", url, str(dest))
    # The locked commit when the lock pinned one; else the ref (a branch: whatever it holds today).
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", want, cwd=dest)
    shutil.rmtree(dest / ".git", ignore_errors=True)
    return dest


def safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract refusing anything that would land outside ``dest`` (an extension tarball is untrusted).
    Uses the 'data' filter where Python has extraction filters (3.11.4+; bookworm ships 3.11.2)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for m in tar.getmembers():
        target = (dest / m.name).resolve()
        if m.name.startswith("/") or not (target == root or root in target.parents):
            raise SourceError(f"The archive member {m.name!r} would be written outside {dest}.")
        if m.issym() or m.islnk():
            link = (target.parent / m.linkname).resolve() if m.issym() else (dest / m.linkname).resolve()
            if m.linkname.startswith("/") or not (link == root or root in link.parents):
                raise SourceError(f"The archive link {m.name!r} -> {m.linkname!r} points outside {dest}.")
        if m.isdev():
            raise SourceError(f"The archive holds a device file {m.name!r}.")
    tar.extractall(dest)


def unpack_tarball(comp: LockedComponent, tmp: Path) -> Path:
    url = comp.source.url or comp.source.path
    if not url:
        raise SourceError(f"{comp.name} has a tarball source without a URL.")
    if url.startswith(("http://", "https://")):
        import requests

        try:
            resp = requests.get(url, timeout=300)
            resp.raise_for_status()
        except Exception as exc:
            raise SourceError(f"Cannot download {comp.name} from {url}: {exc}") from exc
        data = resp.content
    else:
        data = Path(url.removeprefix("file://")).read_bytes()
    if comp.source.sha256 and hashlib.sha256(data).hexdigest() != comp.source.sha256.lower():
        from mwrelease.errors import IntegrityError

        raise IntegrityError(f"The tarball of {comp.name} ({url}) does not match the lock's sha256.")
    dest = tmp / "tarball" / comp.name
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        safe_extract(tar, dest)
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


# --- snapshots of an installed wiki ------------------------------------------------------------------

L10N_DIR = "/var/lib/mwtest/cache"


def _l10n_path(options: CellOptions, engine: Engine, image_tag: str, cell: Cell) -> Path | None:
    if options.snapshot_dir is None or not image_tag:
        return None
    info = engine.image(image_tag)
    if info is None:
        return None
    key = hashlib.sha256(f"{SNAPSHOT_VERSION}\0{info.id}\0{cell.lock_digest}".encode()).hexdigest()[:16]
    return options.snapshot_dir / f"l10n-{key}.tar"


def _save_tree(container: Container, path: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        container.get_tree(path, d)
        part = dest.with_suffix(f".{os.getpid()}.{id(container)}.part")
        with tarfile.open(part, "w") as tar:
            for child in sorted(Path(d).iterdir()):
                tar.add(child, arcname=child.name)
        part.replace(dest)


def _snapshot_path(options: CellOptions, engine: Engine, image_tag: str) -> Path | None:
    if options.snapshot_dir is None:
        return None
    info = engine.image(image_tag)
    if info is None:
        return None
    key = hashlib.sha256(f"{SNAPSHOT_VERSION}\0{info.id}\0sqlite".encode()).hexdigest()[:16]
    return options.snapshot_dir / f"sqlite-{key}.tar"


def _save_snapshot(container: Container, wiki: Any, path: Path) -> None:
    from mwrelease.runner import mediawiki as mw

    # Every cell writes the same content for the same image; write to a temp name and rename so
    # that parallel cells never read a half-written snapshot.
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        container.get_tree(mw.SQLITE_DIR, Path(d) / "data")
        (Path(d) / "LocalSettings.php").write_bytes(container.get_file(wiki.local_settings))
        (Path(d) / "wiki.json").write_text(__import__("json").dumps(wiki.to_json()))
        part = path.with_suffix(f".{os.getpid()}.{id(container)}.part")
        with tarfile.open(part, "w") as tar:
            for name in ("data", "LocalSettings.php", "wiki.json"):
                tar.add(Path(d) / name, arcname=name)
        part.replace(path)


def _restore_snapshot(container: Container, path: Path) -> Any:
    import json

    from mwrelease.runner import mediawiki as mw

    with tempfile.TemporaryDirectory() as d:
        with tarfile.open(path) as tar:
            safe_extract(tar, Path(d))
        wiki = mw.Wiki(**json.loads((Path(d) / "wiki.json").read_text()))
        container.put_tree(Path(d) / "data", mw.SQLITE_DIR)
        directory, _, name = wiki.local_settings.rpartition("/")
        container.put_files(directory, {name: (Path(d) / "LocalSettings.php").read_bytes()})
    return wiki


@contextmanager
def interrupt_cleanup(engine: Engine, *, keep: bool = False) -> Iterator[None]:
    """On Ctrl-C, remove every container this process started (worker threads may still be inside
    a ``with engine.container``, whose own ``finally`` only runs when their thread gets there)."""
    try:
        yield
    except KeyboardInterrupt:
        if keep:
            raise
        removed = 0
        for obj in engine.client.containers.list(all=True, filters={"label": f"mwrelease.pid={os.getpid()}"}):
            try:
                obj.remove(force=True, v=True)
                removed += 1
            except Exception:  # noqa: BLE001 - best effort while interrupted
                pass
        log.warning("interrupted: removed %d container(s)", removed)
        raise


# --- a matrix of cells ----------------------------------------------------------------------------

def default_snapshot_dir() -> Path:
    return user_cache_dir("snapshots")


def prepare_images(cells: list[Cell], engine: Engine, *, on_line: Callable[[str], None] | None = None) -> dict[str, float]:
    """Build (or find) every image the runnable cells need, one after the other, before cells run in
    parallel: two cells must not build the same image at once. Returns seconds per image."""
    from mwrelease.runner import images

    seconds: dict[str, float] = {}
    for line in sorted({c.core_line for c in cells if c.runnable}):
        built = images.core_image(engine, line, on_line=on_line)
        seconds[f"core {line}"] = built.seconds
    for db in sorted({c.db for c in cells if c.runnable and c.db != "sqlite"}):
        built = images.db_image(engine, "mariadb" if db == "mariadb" else "postgres", on_line=on_line)
        seconds[f"db {db}"] = built.seconds
    return seconds


def run_cells(cells: list[Cell], engine: Engine, *, jobs: int = 1, options: CellOptions = CellOptions(),
              on_step: Callable[[str, CheckResult], None] | None = None,
              on_cell: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Run the runnable cells, up to ``jobs`` at once (threads: the work is in the containers), and
    return a result for every cell, skipped ones included, in plan order."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    out: dict[str, CellResult] = {}
    for c in cells:
        if not c.runnable:
            out[c.id] = CellResult.for_cell(c)
            if on_cell:
                on_cell(out[c.id])
    runnable = [c for c in cells if c.runnable]
    with interrupt_cleanup(engine, keep=options.keep):
        pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cell")
        try:
            futures = {pool.submit(run_cell, c, engine, options=options, on_step=on_step): c for c in runnable}
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    res = fut.result()
                except MwreleaseError as exc:
                    res = CellResult.for_cell(cell, [CheckResult(name="engine", status="error", message=exc.message,
                                                                 log="\n".join(exc.details))])
                out[cell.id] = res
                if on_cell:
                    on_cell(res)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return [out[c.id] for c in cells]
