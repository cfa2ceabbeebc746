"""Progress on stderr that reads well both in a terminal and in a CI log.

On a terminal: a click progress bar, with each finished unit (cell, build phase, image) printed above it.
Elsewhere (CI logs, pipes): no bar, which would be a label and then silence, but one line per finished
unit and per note, each with the count and the time since the start::

    [ 3/12   41.2s] cell 1.43-php8.2-sqlite: passed (12.0s)

and, when nothing was printed for ``heartbeat`` seconds, a "still working" line naming what runs and
its last output, so a ten-minute apt step does not look like a hang. Only stderr is written: with
``--json`` stdout stays one JSON document.

    with Progress("cells", total=len(cells)) as progress:
        run(..., on_cell=lambda r: progress.done(f"cell {r.id}: {r.status}"))
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict

import click

if TYPE_CHECKING:
    from mwrelease.runner.results import CellResult

# Both looked up at construction, so tests can put a fake clock here (monkeypatch) and get exact figures.
monotonic: Callable[[], float] = time.monotonic
HEARTBEAT = 60.0  # seconds without a line before a "still working" line; 0 turns it off


def elapsed(seconds: float) -> str:
    """41.2s, 12m03s, 1h05m: short and sortable by eye in a log."""
    if seconds < 600:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """``total`` units of work; ``done`` after each, ``note`` for anything else worth a line."""

    def __init__(self, label: str, total: int, *, tty: bool | None = None, heartbeat: float | None = None,
                 quiet: bool = False) -> None:
        self.label = label
        self.total = total
        self.count = 0
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.quiet = quiet
        self._clock = monotonic
        self._start = self._last_line = self._last_news = self._last_done = self._clock()
        self._heartbeat = HEARTBEAT if heartbeat is None else heartbeat
        self._lock = threading.RLock()  # the heartbeat thread prints too
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None  # click's ProgressBar (its type is private)
        self._doing = ""
        self._last_output = ""

    # --- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.quiet:
            return self
        if self.tty:
            self._bar = click.progressbar(length=max(self.total, 1), label=self.label, file=sys.stderr,
                                          show_pos=True, item_show_func=lambda item: item)
            self._bar.__enter__()
        elif self._heartbeat > 0:
            self._thread = threading.Thread(target=self._beat_loop, name="progress-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    # --- reporting ---------------------------------------------------------------------------------
    def done(self, text: str, *, lap: bool = False) -> None:
        """One unit finished. ``lap`` adds how long since the previous unit (for phases run one after another)."""
        with self._lock:
            now = self._clock()
            self.count += 1
            took = now - self._last_done
            self._last_done = now
            self._line(text + (f" ({elapsed(took)})" if lap else ""), now)
            if self._bar is not None:
                self._bar.update(1, text)

    def note(self, text: str) -> None:
        """A line that finishes no unit: a phase starting, a Dockerfile step, a download."""
        with self._lock:
            self._line(text, self._clock())

    def doing(self, text: str) -> None:
        """What runs now, named by the heartbeat (and shown beside the bar)."""
        with self._lock:
            self._doing, self._last_output = text, ""
            if self._bar is not None:
                self._bar.current_item = text
                self._bar.render_progress()

    def output(self, line: str) -> None:
        """The latest output of what runs (not printed; the heartbeat quotes it)."""
        self._last_output = line.strip()

    def beat(self) -> bool:
        """Print a "still working" line if nothing was printed for ``heartbeat`` seconds."""
        with self._lock:
            now = self._clock()
            if self.quiet or self._heartbeat <= 0 or now - self._last_line < self._heartbeat:
                return False
            what = f": {self._doing}" if self._doing else ""
            last = f"; last output: {self._last_output[:120]}" if self._last_output else ""
            self._line(f"still working{what} (nothing new for {elapsed(now - self._last_news)}{last})", now,
                       news=False)
            return True

    # --- inside ------------------------------------------------------------------------------------
    def _line(self, text: str, now: float, *, news: bool = True) -> None:
        self._last_line = now
        if news:
            self._last_news = now
        if self.quiet:
            return
        width = len(str(self.total))
        line = f"[{self.count:>{width}}/{self.total} {elapsed(now - self._start):>7}] {text}"
        if self._bar is None:
            click.echo(line, err=True)
            return
        # Above the bar: clear its line, print, draw the bar again below.
        click.echo("\r\033[K" + line, err=True)
        self._bar.render_progress()

    def _beat_loop(self) -> None:
        while not self._stop.wait(min(self._heartbeat, 5.0)):
            self.beat()


class BuildSteps:
    """A docker build's output as progress: a note per Dockerfile step ("Step 3/13 : RUN ...") as it starts,
    every other line only with ``verbose`` (otherwise kept for the heartbeat's "last output")."""

    def __init__(self, progress: Progress, name: str, *, verbose: bool = False) -> None:
        self.progress = progress
        self.name = name
        self.verbose = verbose

    def __call__(self, line: str) -> None:
        if line.startswith("Step "):
            step = line if len(line) <= 140 else line[:137] + "..."
            self.progress.note(f"{self.name}: {step}")
            self.progress.doing(f"{self.name} {line.split(' :', 1)[0]}")
        elif self.verbose:
            self.progress.note(f"    {line}")
        else:
            self.progress.output(line)


def cell_line(r: CellResult) -> str:
    """``cell ID: STATUS (12.0s)  check, check``: one finished cell, its first failed required checks."""
    bad = ", ".join(c.name for c in r.failed_required[:4])
    return f"cell {r.id}: {r.status}" + (f" ({elapsed(r.duration)})" if r.duration else "") + (f"  {bad}" if bad else "")


class SessionCallbacks(TypedDict):
    on_prepare: Callable[[int], None]
    on_build_line: Callable[[str], None]
    on_run: Callable[[int], None]
    on_cell: Callable[[CellResult], None]


def session_callbacks(progress: Progress, jobs: int) -> SessionCallbacks:
    """``run_session``'s callbacks (keyword arguments) that report to ``progress``: a line per finished
    cell, a note and the Dockerfile steps while images are prepared."""
    def on_prepare(n: int) -> None:
        progress.note(f"preparing images for {n} cell(s)...")
        progress.doing("preparing images")

    def on_run(n: int) -> None:
        progress.doing(f"{n} cell(s), {min(jobs, n)} at a time")

    def on_cell(r: CellResult) -> None:
        progress.done(cell_line(r))

    return {"on_prepare": on_prepare, "on_build_line": BuildSteps(progress, "image"), "on_run": on_run,
            "on_cell": on_cell}


__all__ = ["BuildSteps", "Progress", "cell_line", "elapsed", "session_callbacks"]
