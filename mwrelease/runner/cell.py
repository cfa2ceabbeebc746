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

Warm cells (``runner.snapshots``, in ``snapshot_dir``): later cells on an image restore its first SQLite install
instead of running install.php; later cells of a lock, its localisation cache and compiled modules (``runner.rlcache``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from mwrelease.errors import EngineError, MwreleaseError
from mwrelease.runner import images, rlcache, sandbox, snapshots
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.checks import CheckContext, run_checks, tail_logs
from mwrelease.runner.manifests import read_manifests
from mwrelease.runner.engine import Container, Engine, ExecResult, Sandbox
from mwrelease.runner.localsettings import disable_installer_skins, local_settings_text
from mwrelease.runner.logs import Blamer, ComponentManifest
from mwrelease.runner.place import place_component
from mwrelease.runner.plan import Cell
from mwrelease.runner.results import CellResult, CheckResult, CheckStatus, excerpt
from mwrelease.runner.sandbox import FSIZE
from mwrelease.runner.snapshots import default_snapshot_dir as default_snapshot_dir

log = logging.getLogger("mwrelease.cell")

# Docker's default capability set. The wiki container drops all of them; a database container keeps
# what its server needs to switch to its own user (mariadbd --user=mysql, pg_ctlcluster, runuser).
DOCKER_DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                       "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")
WIKI_CAP_DROP = ("ALL",)
DB_CAPS_KEPT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "AUDIT_WRITE")
DB_CAP_DROP = tuple(c for c in DOCKER_DEFAULT_CAPS if c not in DB_CAPS_KEPT)
CHECK_NAMES = ("siteinfo", "special-version", "smoke", "edit-readback", "load.php", "php-errors")

StepOutcome = tuple[CheckStatus, str, str]  # (status, message, log)


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
    sandbox: bool = True  # the wiki container's limits (runner.sandbox); disk_limit: each tmpfs
    cpus: float = 1.0
    disk_limit: str = "256m"
    fsize: int = FSIZE  # the soft limit; the hard one is sandbox.SHELLBOX_FSIZE (see there why); 0: none
    nofile: int = 4096


def run_cell(cell: Cell, engine: Engine, *, options: CellOptions = CellOptions(),
             on_step: Callable[[str, CheckResult], None] | None = None) -> CellResult:
    """Run ``cell`` and return its result. Never raises for a failure of the software under test;
    raises EngineError only when the engine itself is unusable, and KeyboardInterrupt passes through."""
    if not cell.runnable:
        return CellResult.for_cell(cell)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="mwrelease-cell-", dir=options.workdir) as tmp:
        return CellSession(cell, engine, options=options, on_step=on_step, stack=stack, workdir=Path(tmp)).run()


class CellSession:
    """One cell's run: a method per step, in ``run``'s order; the state the steps share lives here.

    A step returns (status, message, log); ``step`` records it as a check, and once a step did not
    pass, the later steps are recorded as skipped. Containers are entered on ``stack``, so they are
    removed when the caller's ``with`` ends, whatever happens.
    """

    def __init__(self, cell: Cell, engine: Engine, *, options: CellOptions, stack: ExitStack, workdir: Path,
                 on_step: Callable[[str, CheckResult], None] | None = None) -> None:
        self.cell = cell
        self.engine = engine
        self.options = options
        self.stack = stack
        self.workdir = workdir
        self.on_step = on_step
        self.checks: list[CheckResult] = []
        self.timings: dict[str, float] = {}
        self.failed: str | None = None  # the step that broke the setup
        self.manifests: dict[str, ComponentManifest] = {}
        self.image_tag = ""
        self.facts: dict[str, object] = {}
        self.warm = False
        self.database: mw.Database | None = None
        self.network_mode = "none"
        self.container: Container | None = None
        self.sandbox: Sandbox | None = None
        self.wiki: mw.Wiki | None = None

    def run(self) -> CellResult:
        started = time.monotonic()
        cell = self.cell
        self.step("image", self.build_image)
        if cell.db != "sqlite" and not self.failed:
            self.step("database", self.start_database)
        if not self.failed:
            self.step("container", self.start_container)
        self.step("install", self.install)
        self.step("place", self.place)
        self.step("localsettings", self.write_settings)
        caches = snapshots.cache_path(self.options.snapshot_dir, self.engine, self.image_tag, cell.lock_digest)
        if caches is not None and caches.is_file() and not self.failed and self.container is not None:
            self.restore_caches(caches)
        self.step("update.php", self.update)
        self.step("server", self.serve)
        if not self.failed:
            self.run_checks(caches)
        else:
            for name in CHECK_NAMES:
                self.add(CheckResult(name=name, status="skipped", message=f"skipped: {self.failed} failed"))
        if self.failed and self.container is not None and self.failed not in ("image", "container"):
            self.attach_logs(self.container)
        facts = {k: str(self.facts.get(k) or "") or None for k in ("mediawiki_version", "php_version")}
        return CellResult.for_cell(cell, self.checks, image=self.image_tag or None, **facts,
                                   duration=time.monotonic() - started, timings=self.timings, warm=self.warm)

    # --- bookkeeping --------------------------------------------------------------------------
    @property
    def blamer(self) -> Blamer:
        loaded = self.cell.loaded
        default = loaded[0].name if self.cell.only and len(loaded) == 1 else None
        return Blamer(self.cell.components, self.manifests, default)

    def add(self, r: CheckResult) -> None:
        self.checks.append(r)
        if self.on_step:
            self.on_step(self.cell.id, r)

    def step(self, name: str, fn: Callable[[], StepOutcome]) -> bool:
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
        if status != "passed" and self.container is not None:
            full = sandbox.usage_notes(self.container, self.sandbox)
            message += f" ({full})" if full and full not in message else ""
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

    def _ready(self) -> tuple[Container, mw.Wiki]:
        assert self.container is not None and self.wiki is not None
        return self.container, self.wiki

    # --- the steps ----------------------------------------------------------------------------
    def build_image(self) -> StepOutcome:
        built = images.core_image(self.engine, self.cell.core_line)
        self.image_tag = built.tag
        return "passed", f"{built.tag} ({'cached' if built.cached else f'built in {built.seconds:.0f} s'})", ""

    def start_database(self) -> StepOutcome:
        cell, options = self.cell, self.options
        kind: images.DbKind = "mariadb" if cell.db == "mariadb" else "postgres"
        db_img = images.db_image(self.engine, kind)
        dbc = self.stack.enter_context(self.engine.container(
            db_img.tag, keep=options.keep, mem_limit=options.mem_limit, pids_limit=options.pids_limit,
            cap_drop=DB_CAP_DROP, labels={"mwrelease.cell": cell.id, "mwrelease.role": "db"}))
        self.database = mw.start_database(dbc, kind)
        self.network_mode = dbc.peer_network_mode
        return "passed", f"{cell.db} {self.database.version}", ""

    def start_container(self) -> StepOutcome:
        options = self.options
        self.sandbox = self.sandbox_for() if options.sandbox else None
        self.container = self.stack.enter_context(self.engine.container(
            self.image_tag, network_mode=self.network_mode, keep=options.keep, mem_limit=options.mem_limit,
            pids_limit=options.pids_limit, cap_drop=WIKI_CAP_DROP, limits=self.sandbox, env=mw.PHP_ENV,
            labels={"mwrelease.cell": self.cell.id, "mwrelease.role": "wiki"}))
        self.facts = mw.image_facts(self.container)
        facts = self.facts
        return "passed", f"MediaWiki {facts.get('mediawiki_version')} on PHP {facts.get('php_version')}", ""

    def sandbox_for(self) -> Sandbox | None:
        """The wiki container's limits; None (and a warning) for a layout whose writable places we do not know."""
        info = self.engine.image(self.image_tag)
        ip = (info.labels if info else {}).get("mwrelease.mediawiki.path", "")
        if ip != images.DEBIAN_MW_PATH:
            log.warning("%s: no sandbox for the MediaWiki layout at %r (a writable root filesystem)", self.cell.id, ip)
            return None
        o = self.options
        writable = sandbox.writable_places(self.cell, ip)
        return Sandbox(writable=writable, size=o.disk_limit, cpus=o.cpus, nofile=o.nofile, fsize=o.fsize,
                       # the component trees only (SyntaxHighlight runs its bundled pygmentize); /tmp is noexec
                       executable=tuple(w for w in writable if w not in sandbox.DEBIAN_WRITABLE))

    def install(self) -> StepOutcome:
        container = self.container
        assert container is not None
        snap = (snapshots.sqlite_path(self.options.snapshot_dir, self.engine, self.image_tag)
                if self.database is None else None)
        if snap is not None and snap.is_file():
            self.wiki = snapshots.restore_sqlite(container, snap)
            self.warm = True
            return "passed", f"restored the installed wiki from {snap.name}", ""
        try:
            self.wiki = mw.install_wiki(container, database=self.database, timeout=self.options.install_timeout)
        except EngineError as exc:
            return "failed", f"install.php failed: {exc.message}", "\n".join(exc.details)
        if snap is not None:
            snapshots.save_sqlite(container, self.wiki, snap)
        return "passed", f"install.php in {self.wiki.install_seconds:.1f} s", ""

    def place(self) -> StepOutcome:
        container, wiki = self._ready()
        notes = []
        for c in self.cell.loaded:
            try:
                notes.append(place_component(container, wiki.path, c, self.cell, self.workdir,
                                             fresh=self.sandbox is not None))
            except MwreleaseError as exc:
                exc.component = c.name  # type: ignore[attr-defined]  # read by step() for the blame
                raise
        self.manifests = read_manifests(container, wiki, self.cell.loaded)
        missing = [m.name for m in self.manifests.values() if not m.present or m.error]
        if missing:
            return ("failed", f"no readable extension.json/skin.json for {', '.join(missing)}",
                    "\n".join(f"{m.name}: {m.error or 'missing'}" for m in self.manifests.values() if m.name in missing))
        return "passed", "; ".join(n for n in notes if n) or "all bundled", ""

    def write_settings(self) -> StepOutcome:
        container, wiki = self._ready()
        text = local_settings_text(self.cell)
        disable_installer_skins(container, wiki, self.cell)
        mw.append_local_settings(container, wiki, text)
        # One exec: directories, PHP's settings, the server's prepend file (exit 99: failed), the lint.
        lint = container.exec(["sh", "-c", mw.PREPARE_PHP + ' && printf "%s" "$4" >"$3" || exit 99; exec php -l "$1"',
                               "sh", wiki.local_settings, mw.php_ini(self.facts.get("php_version")),
                               rlcache.PREPEND_FILE, rlcache.PREPEND_PHP], timeout=30, quiet=True)
        if not (lint.check() if lint.exit_code == 99 else lint).ok:
            return "failed", "LocalSettings.php does not parse", lint.output
        return "passed", f"{len(self.cell.loaded)} load lines", text

    def restore_caches(self, caches: Path) -> None:
        # The localisation cache of an earlier cell with the same image and lock (MediaWiki checks the
        # message files' mtimes against it: a stale copy costs time, never correctness), and
        # ResourceLoader's compiled output, keyed by content (runner.rlcache).
        assert self.container is not None
        t0 = time.monotonic()
        snapshots.restore_tree(self.container, caches, snapshots.L10N_DIR)
        self.timings["cache-restore"] = time.monotonic() - t0
        self.warm = True

    def update(self) -> StepOutcome:
        container, wiki = self._ready()
        r = mw.run_maintenance(container, "update", ["--quick"], wiki=wiki, check=False,
                               timeout=self.options.update_timeout)
        return _judge_maintenance("update.php", r, self.sandbox)

    def serve(self) -> StepOutcome:
        container, wiki = self._ready()
        mw.start_server(container, wiki, prepend=rlcache.PREPEND_FILE)
        return "passed", wiki.server, ""

    def run_checks(self, caches: Path | None) -> None:
        container, wiki = self._ready()
        cell = self.cell
        cstart = time.monotonic()
        ctx = CheckContext(container=container, wiki=wiki, lock=cell.lock, timeout=self.options.request_timeout,
                           names=frozenset(cell.components), components=cell.loaded,
                           default_blame=self.blamer.default)
        ctx.manifests = self.manifests
        run_checks(ctx, on_check=self.add)
        self.timings["checks"] = time.monotonic() - cstart
        if caches is not None and not caches.is_file():
            try:
                rlcache.dump(container, wiki.server)
                snapshots.save_tree(container, snapshots.L10N_DIR, caches)
            except EngineError as exc:
                log.warning("could not save the localisation and ResourceLoader caches: %s", exc.message)

    def attach_logs(self, container: Container) -> None:
        """When setup broke, put the PHP logs on the failed step too: they usually say why."""
        tail = tail_logs(container)
        if not tail:
            return
        for i, c in enumerate(self.checks):
            if c.name == self.failed:
                hit = self.blamer.culprit(tail)
                blame = c.blame or ((hit,) if hit else ())
                self.checks[i] = replace(c, log=excerpt(c.log + "\n--- PHP logs ---\n" + tail), blame=blame)


def _judge_maintenance(what: str, r: ExecResult, limits: Sandbox | None = None) -> StepOutcome:
    why = sandbox.explain(r, limits)
    why = f": {why}" if why else ""
    if r.timed_out:
        return "failed", f"{what} did not finish within {r.duration:.0f} s and was killed (timeout){why}", r.output
    if r.exit_code != 0:
        return "failed", f"{what} exited with {r.exit_code}{why}", r.output
    # update.php prints a caught exception and may still exit 0 on old cores.
    if "Fatal error" in r.output or "Exception" in r.output and "[exception]" in r.output:
        return "failed", f"{what} reported an error", r.output
    return "passed", f"{r.duration:.1f} s", ""


@contextmanager
def interrupt_cleanup(engine: Engine, *, keep: bool = False) -> Iterator[None]:
    """On Ctrl-C, remove every container this process started (worker threads may still be inside
    a ``with engine.container``, whose own ``finally`` only runs when their thread gets there)."""
    try:
        yield
    except KeyboardInterrupt:
        if keep:
            raise
        removed = engine.remove_own_containers()
        log.warning("interrupted: removed %d container(s)", removed)
        raise


# --- a matrix of cells ----------------------------------------------------------------------------

def prepare_images(cells: list[Cell], engine: Engine, *, on_line: Callable[[str], None] | None = None) -> dict[str, float]:
    """Build (or find) every image the runnable cells need, one after the other, before cells run in
    parallel: two cells must not build the same image at once. Returns seconds per image."""
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
