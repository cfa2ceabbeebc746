"""A running container: commands with timeouts inside it, files in and out. Made by ``Engine.container``
(``runner.engine``), which removes it when its ``with`` block ends.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import shlex
import socket
import tarfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mwrelease.errors import EngineError

log = logging.getLogger("mwrelease.engine")

HINT = "Run ci/prepare-machine.sh to install and start a Docker engine and create the base images."
# coreutils timeout exit codes: 124 after TERM, 137 (128+9) when -k had to KILL.
TIMEOUT_EXIT = 124
_KILL_GRACE = 5
# The host waits this long past a command's own timeout (and its kill grace) before it kills the container.
HOST_SLACK = float(os.environ.get("MWRELEASE_HOST_SLACK", "10"))
# What the host keeps of a command's stdout and of its stderr; the rest is read and dropped.
MAX_OUTPUT = 1 << 20
# Files copied out of a container (snapshots, a saved wiki) are read whole; beyond this, refused.
MAX_TRANSFER = 1 << 30
TRANSFER_TIMEOUT = 600
STDOUT, STDERR = 1, 2

@dataclass(frozen=True, kw_only=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr, interleaved as produced
    duration: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    command: tuple[str, ...] = ()
    truncated: bool = False  # output beyond MAX_OUTPUT was dropped
    killed: bool = False     # past the host-side deadline: the container was killed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> ExecResult:
        """Return self, or raise CommandFailed when the command failed or timed out."""
        if self.exit_code != 0:
            raise CommandFailed(self)
        return self


class CommandFailed(EngineError):
    """A command inside a container failed (the environment under test could not be set up)."""

    def __init__(self, result: ExecResult) -> None:
        what = ("ran past its deadline and its container was killed" if result.killed else
                "timed out" if result.timed_out else f"exited with {result.exit_code}")
        tail = result.output.strip().splitlines()[-15:]
        super().__init__(f"Command `{shlex.join(result.command)}` {what} after {result.duration:.1f} s.",
                         details=tail)
        self.result = result


@dataclass(kw_only=True)
class Container:
    """A running container. Made by ``Engine.container``; removed when its ``with`` block ends."""

    api: Any = field(repr=False)  # the engine's low-level client without a read timeout (long execs)
    id: str
    name: str
    image: str
    started_in: float = 0.0
    _obj: Any = field(repr=False, default=None)

    @property
    def peer_network_mode(self) -> str:
        """``network_mode`` for a second container that shares this one's loopback (a database client)."""
        return f"container:{self.id}"

    def exec(self, cmd: str | Sequence[str], *, timeout: float, user: str | None = None,
             workdir: str | None = None, env: Mapping[str, str] | None = None,
             on_output: Callable[[str], None] | None = None, quiet: bool = False,
             max_output: int = MAX_OUTPUT) -> ExecResult:
        """Run ``cmd`` (a string runs under ``sh -c``) and wait at most ``timeout`` seconds.

        The timeout is enforced inside the container by coreutils ``timeout -k 5``, so a runaway
        process group is killed even when this process dies; a timeout gives exit code 124 and
        ``timed_out=True``. A host-side deadline backs it up (a process that left the group, a
        stream that never closes): past it the container is killed and the result says so. Output
        beyond ``max_output`` bytes per stream is read and dropped, with a marker. The call returns
        when the command's output closes: start servers and other background processes with
        ``start_background``, not with ``&`` here.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        shown = cmd if isinstance(cmd, str) else shlex.join(argv)
        if not quiet:
            log.info("+ %s", shown)
        start = time.monotonic()
        # Incremental decoders: a UTF-8 character may be split across two frames.
        dec_out, dec_err = (codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2))
        out: list[str] = []
        so: list[str] = []
        se: list[str] = []
        pending = ""

        def sink(stream: int, chunk: bytes) -> None:
            nonlocal pending
            dec = dec_out if stream == STDOUT else dec_err
            text = dec.decode(chunk)
            (so if stream == STDOUT else se).append(text)
            out.append(text)
            if on_output is not None:
                pending += text
                *lines, pending = pending.split("\n")
                for line in lines:
                    on_output(line)

        raw = self._run(argv, timeout=timeout, user=user, workdir=workdir, env=env, shown=shown,
                        on_chunk=sink, max_output=max_output)
        if on_output is not None and pending:
            on_output(pending)
        notes = [f"\n[mwrelease: {name} truncated at {max_output} bytes; {n} more bytes dropped]\n"
                 for name, n in (("stdout", raw.dropped[STDOUT]), ("stderr", raw.dropped[STDERR])) if n]
        if raw.killed:
            notes.append(f"\n[mwrelease: the command did not end {raw.duration:.0f} s after its {timeout:g} s "
                         "timeout; the host killed its container]\n")
        out += notes
        exit_code = raw.exit_code
        timed_out = raw.killed or exit_code == TIMEOUT_EXIT or (exit_code == 128 + 9 and raw.duration >= timeout)
        if timed_out:
            log.warning("timed out after %.1f s: %s", raw.duration, shown)
        return ExecResult(exit_code=exit_code, output="".join(out), stdout="".join(so), stderr="".join(se),
                          duration=raw.duration, timed_out=timed_out, command=tuple(argv),
                          truncated=bool(raw.dropped[STDOUT] or raw.dropped[STDERR]), killed=raw.killed)

    def _run(self, argv: Sequence[str], *, timeout: float, user: str | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None, shown: str = "", stdin: bytes | None = None,
             on_chunk: Callable[[int, bytes], None], max_output: int) -> _Raw:
        """Run ``argv`` under ``timeout -k``, feed it ``stdin``, hand its output to ``on_chunk`` (at most
        ``max_output`` bytes per stream), and give up at the host-side deadline by killing the container."""
        wrapped = ["timeout", "-k", str(_KILL_GRACE), f"{timeout:g}", *argv]
        api = self.api
        start = time.monotonic()
        kept = {STDOUT: 0, STDERR: 0}
        dropped = {STDOUT: 0, STDERR: 0}
        failure: list[BaseException] = []
        try:
            exec_id = api.exec_create(self.id, wrapped, user=user or "", workdir=workdir, stdin=stdin is not None,
                                      environment=dict(env) if env else None)["Id"]
            sock = api.exec_start(exec_id, socket=True)
        except docker_errors() as exc:
            raise EngineError(f"Running `{shown}` in container {self.name} failed: {exc}", hint=HINT) from exc
        raw_sock = getattr(sock, "_sock", sock)

        def pump() -> None:
            from docker.utils.socket import frames_iter

            try:
                if stdin is not None:
                    raw_sock.sendall(stdin)
                    raw_sock.shutdown(socket.SHUT_WR)
                for stream, chunk in frames_iter(sock, tty=False):
                    stream = STDERR if stream == STDERR else STDOUT
                    room = max(0, max_output - kept[stream])
                    if room < len(chunk):
                        dropped[stream] += len(chunk) - room
                        chunk = chunk[:room]
                    if chunk:
                        kept[stream] += len(chunk)
                        on_chunk(stream, chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                failure.append(exc)

        reader = threading.Thread(target=pump, name=f"exec-{self.name}", daemon=True)
        reader.start()
        reader.join(timeout + _KILL_GRACE + HOST_SLACK)
        killed = reader.is_alive()
        if killed:
            # The in-container timeout did not end it (a process that left the group keeps the stream
            # open, or the engine hangs): kill the whole container, which closes the stream.
            log.warning("no end %.0f s after the timeout of `%s`: killing container %s",
                        time.monotonic() - start - timeout, shown, self.name)
            self.kill()
            reader.join(15)
        try:
            sock.close()
        except OSError:
            pass
        if failure and not killed:
            err = failure[0]
            if isinstance(err, docker_errors()) or isinstance(err, OSError):
                raise EngineError(f"Running `{shown}` in container {self.name} failed: {err}", hint=HINT) from err
            raise err
        exit_code: int | None = None
        if not killed:
            try:
                exit_code = api.exec_inspect(exec_id)["ExitCode"]
            except docker_errors() as exc:
                raise EngineError(f"Running `{shown}` in container {self.name} failed: {exc}", hint=HINT) from exc
        return _Raw(exit_code=int(exit_code if exit_code is not None else -1), duration=time.monotonic() - start,
                    dropped=dropped, killed=killed)

    def kill(self) -> None:
        """Kill the container's processes at once (it is still removed by its ``with`` block)."""
        try:
            if self.api.inspect_container(self.id)["State"].get("Paused"):
                self.api.unpause(self.id)  # a paused (frozen) container cannot be killed
            self._obj.kill()
        except docker_errors() as exc:
            log.warning("could not kill container %s: %s", self.name, exc)

    def start_background(self, cmd: str | Sequence[str], *, user: str | None = None,
                         workdir: str | None = None, env: Mapping[str, str] | None = None) -> None:
        """Start a long-running process (a server) and return at once; it dies with the container."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        log.info("+ %s &", cmd if isinstance(cmd, str) else shlex.join(argv))
        try:
            self._obj.exec_run(argv, detach=True, user=user or "", workdir=workdir,
                               environment=dict(env) if env else None)
        except docker_errors() as exc:
            raise EngineError(f"Starting `{argv}` in container {self.name} failed: {exc}") from exc

    def put_files(self, dest_dir: str, files: Mapping[str, bytes], *, mode: int = 0o644,
                  uid: int = 0, gid: int = 0) -> None:
        """Write ``{relpath: content}`` under ``dest_dir`` (created if missing)."""
        buf = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs: set[str] = set()
            for rel, data in sorted(files.items()):
                rel_path = PurePosixPath(rel)
                if rel_path.is_absolute() or ".." in rel_path.parts:
                    raise ValueError(f"put_files: {rel!r} must be a relative path inside {dest_dir}")
                for parent in reversed(rel_path.parents[:-1]):
                    if str(parent) not in dirs:
                        dirs.add(str(parent))
                        d = tarfile.TarInfo(str(parent))
                        d.type, d.mode, d.mtime, d.uid, d.gid = tarfile.DIRTYPE, 0o755, now, uid, gid
                        tar.addfile(d)
                info = tarfile.TarInfo(str(rel_path))
                info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, now, uid, gid
                tar.addfile(info, io.BytesIO(data))
        self._put_archive(dest_dir, buf.getvalue())

    def put_tree(self, local_path: str | os.PathLike[str], dest: str) -> None:
        """Copy the contents of a local directory (or one file) to ``dest`` in the container."""
        src = Path(local_path)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            if src.is_dir():
                for child in sorted(src.iterdir()):
                    tar.add(child, arcname=child.name)
            else:
                tar.add(src, arcname=PurePosixPath(dest).name)
                dest = str(PurePosixPath(dest).parent)
        self._put_archive(dest, buf.getvalue())

    def get_file(self, path: str) -> bytes:
        data = self._read(["sh", "-c", 'test -f "$1" || { echo "not a regular file: $1" >&2; exit 3; }; '
                           'exec cat -- "$1"', "sh", path], what=path)
        return data

    def get_tree(self, path: str, local_dest: str | os.PathLike[str]) -> Path:
        """Copy directory ``path`` out of the container into ``local_dest`` (its contents, not the dir)."""
        dest = Path(local_dest)
        dest.mkdir(parents=True, exist_ok=True)
        with self._get_archive(path) as tar:
            members = []
            for m in tar.getmembers():
                # The archive's top entry is the basename of ``path``; strip it.
                parts = PurePosixPath(m.name).parts
                if len(parts) <= 1:
                    continue
                m.name = str(PurePosixPath(*parts[1:]))
                members.append(m)
            # 'tar' filter: refuses paths outside dest but keeps absolute symlinks (Debian's tree has
            # links into /etc/mediawiki and /var/lib/mediawiki). Pythons without extraction filters
            # (bookworm's 3.11.2) get the same path check by hand.
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(dest, members=members, filter="tar")
            else:
                root = dest.resolve()
                for m in members:
                    target = (root / m.name).resolve()
                    if (m.name.startswith("/") or ".." in PurePosixPath(m.name).parts
                            or not target.is_relative_to(root)):
                        raise EngineError(f"Refusing to unpack {m.name!r} from {self.name}:{path} outside {dest}.")
                tar.extractall(dest, members=members)
        return dest

    # Files go in and out as tar streams through ``tar`` inside the container, not the engine's archive
    # API: that API cannot write to a read-only root filesystem, nor see into tmpfs mounts (a cell's
    # whole writable state), and it runs as the engine (root), not as the container's user.
    def _put_archive(self, dest_dir: str, data: bytes) -> None:
        chunks: list[bytes] = []
        raw = self._run(["sh", "-c", 'mkdir -p -- "$1" && exec tar -x --no-same-owner -C "$1" -f -', "sh", dest_dir],
                        timeout=TRANSFER_TIMEOUT, shown=f"tar -x -C {dest_dir}", stdin=data,
                        on_chunk=lambda _s, c: chunks.append(c), max_output=MAX_OUTPUT)
        if raw.exit_code != 0:
            text = b"".join(chunks).decode(errors="replace").strip()
            raise EngineError(f"Copying files into {self.name}:{dest_dir} failed"
                              f"{' (timeout)' if raw.killed else ''}: {text or f'tar exited with {raw.exit_code}'}")

    def _read(self, argv: Sequence[str], *, what: str) -> bytes:
        out: list[bytes] = []
        err: list[bytes] = []
        raw = self._run(argv, timeout=TRANSFER_TIMEOUT, shown=f"read {what}", max_output=MAX_TRANSFER,
                        on_chunk=lambda s, c: (out if s == STDOUT else err).append(c))
        if raw.exit_code != 0 or raw.killed:
            text = b"".join(err).decode(errors="replace").strip()
            raise EngineError(f"Copying {self.name}:{what} out failed: {text or f'exit code {raw.exit_code}'}")
        if raw.dropped[STDOUT]:
            raise EngineError(f"Copying {self.name}:{what} out failed: more than {MAX_TRANSFER} bytes.")
        return b"".join(out)

    @contextmanager
    def _get_archive(self, path: str) -> Iterator[tarfile.TarFile]:
        p = PurePosixPath(path)
        data = self._read(["tar", "-c", "-C", str(p.parent), "-f", "-", "--", p.name or "."], what=path)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
            yield tar


@dataclass(frozen=True, kw_only=True)
class _Raw:
    exit_code: int
    duration: float
    dropped: dict[int, int]
    killed: bool


def docker_errors() -> tuple[type[BaseException], ...]:
    import docker.errors
    import requests.exceptions

    return (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError)
