"""A running container: commands with timeouts inside it, files in and out. Made by ``Engine.container``
(``runner.engine``), which removes it when its ``with`` block ends.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import shlex
import tarfile
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

@dataclass(frozen=True, kw_only=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr, interleaved as produced
    duration: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    command: tuple[str, ...] = ()

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
        what = "timed out" if result.timed_out else f"exited with {result.exit_code}"
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
             on_output: Callable[[str], None] | None = None, quiet: bool = False) -> ExecResult:
        """Run ``cmd`` (a string runs under ``sh -c``) and wait at most ``timeout`` seconds.

        The timeout is enforced inside the container by coreutils ``timeout -k 5``, so a runaway
        process group is killed even when this process dies; a timeout gives exit code 124 and
        ``timed_out=True``. The call returns when the command's output closes: start servers and other
        background processes with ``start_background``, not with ``&`` here.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        shown = cmd if isinstance(cmd, str) else shlex.join(argv)
        if not quiet:
            log.info("+ %s", shown)
        wrapped = ["timeout", "-k", str(_KILL_GRACE), f"{timeout:g}", *argv]
        api = self.api
        start = time.monotonic()
        try:
            exec_id = api.exec_create(self.id, wrapped, user=user or "", workdir=workdir,
                                      environment=dict(env) if env else None)["Id"]
            out: list[str] = []
            so: list[str] = []
            se: list[str] = []
            pending = ""
            # Incremental decoders: a UTF-8 character may be split across two frames.
            dec_out, dec_err = (codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2))
            for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
                for chunk, sink, dec in ((chunk_out, so, dec_out), (chunk_err, se, dec_err)):
                    if chunk:
                        text = dec.decode(chunk)
                        sink.append(text)
                        out.append(text)
                        if on_output is not None:
                            pending += text
                            *lines, pending = pending.split("\n")
                            for line in lines:
                                on_output(line)
            if on_output is not None and pending:
                on_output(pending)
            exit_code = api.exec_inspect(exec_id)["ExitCode"]
        except docker_errors() as exc:
            raise EngineError(f"Running `{shown}` in container {self.name} failed: {exc}", hint=HINT) from exc
        duration = time.monotonic() - start
        exit_code = int(exit_code if exit_code is not None else -1)
        timed_out = exit_code == TIMEOUT_EXIT or (exit_code == 128 + 9 and duration >= timeout)
        if timed_out:
            log.warning("timed out after %.1f s: %s", duration, shown)
        return ExecResult(exit_code=exit_code, output="".join(out), stdout="".join(so), stderr="".join(se),
                          duration=duration, timed_out=timed_out, command=tuple(argv))

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
        with self._get_archive(path) as tar:
            for member in tar:
                if member.isfile():
                    f = tar.extractfile(member)
                    assert f is not None
                    return f.read()
        raise EngineError(f"{path} in container {self.name} is not a regular file.")

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

    def _put_archive(self, dest_dir: str, data: bytes) -> None:
        self.exec(["mkdir", "-p", dest_dir], timeout=30, quiet=True).check()
        try:
            ok = self._obj.put_archive(dest_dir, data)
        except docker_errors() as exc:
            raise EngineError(f"Copying files into {self.name}:{dest_dir} failed: {exc}") from exc
        if not ok:
            raise EngineError(f"Copying files into {self.name}:{dest_dir} failed.")

    @contextmanager
    def _get_archive(self, path: str) -> Iterator[tarfile.TarFile]:
        try:
            stream, _stat = self._obj.get_archive(path)
            buf = io.BytesIO(b"".join(stream))
        except docker_errors() as exc:
            raise EngineError(f"Copying {self.name}:{path} out failed: {exc}") from exc
        with tarfile.open(fileobj=buf, mode="r") as tar:
            yield tar


def docker_errors() -> tuple[type[BaseException], ...]:
    import docker.errors
    import requests.exceptions

    return (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError)
