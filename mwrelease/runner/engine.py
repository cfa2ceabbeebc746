"""A small wrapper on the docker SDK: containers that are always removed, commands with timeouts.

    engine = Engine.connect()
    with engine.container("mwrelease/core:1.43-debian") as c:
        c.put_files("/tmp/x", {"a.txt": b"hello"})
        r = c.exec(["cat", "/tmp/x/a.txt"], timeout=10)
        assert r.ok and r.output == "hello"

Every container carries the label ``mwrelease=1`` so that ``Engine.remove_strays()`` can find what a
killed run left behind. Containers run with ``--network none`` unless told otherwise; a database
container's network namespace is shared with ``network_mode=db.peer_network_mode`` (loopback only).
Set ``MWRELEASE_KEEP_CONTAINERS=1`` to keep containers for debugging.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import shlex
import socket
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mwrelease.errors import EngineError

log = logging.getLogger("mwrelease.engine")

LABEL = "mwrelease"
HINT = "Run ci/prepare-machine.sh to install and start a Docker engine and create the base images."

# Capabilities a MediaWiki test or a database server never needs. CHOWN/SETUID/SETGID/DAC_OVERRIDE/FOWNER
# stay: apt, runuser and the database servers' own privilege drop use them.
DEFAULT_CAP_DROP: tuple[str, ...] = ("NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP", "NET_BIND_SERVICE")

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


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    created: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "tags": list(self.tags), "labels": dict(self.labels),
                "created": self.created, "size": self.size}


@dataclass(kw_only=True)
class Container:
    """A running container. Made by ``Engine.container``; removed when its ``with`` block ends."""

    engine: Engine
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
        api = self.engine._stream_api
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
        except _docker_errors() as exc:
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
        except _docker_errors() as exc:
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
        except _docker_errors() as exc:
            raise EngineError(f"Copying files into {self.name}:{dest_dir} failed: {exc}") from exc
        if not ok:
            raise EngineError(f"Copying files into {self.name}:{dest_dir} failed.")

    @contextmanager
    def _get_archive(self, path: str) -> Iterator[tarfile.TarFile]:
        try:
            stream, _stat = self._obj.get_archive(path)
            buf = io.BytesIO(b"".join(stream))
        except _docker_errors() as exc:
            raise EngineError(f"Copying {self.name}:{path} out failed: {exc}") from exc
        with tarfile.open(fileobj=buf, mode="r") as tar:
            yield tar


class Engine:
    """A connection to a Docker engine (the local one, or ``$DOCKER_HOST``)."""

    def __init__(self, client: Any, stream_api: Any) -> None:
        self.client = client
        # A second low-level client without a read timeout for long streams (builds, long execs):
        # the exec timeout is enforced inside the container instead.
        self._stream_api = stream_api

    @classmethod
    def connect(cls, base_url: str | None = None) -> Engine:
        try:
            import docker
        except ImportError as exc:  # pragma: no cover - docker is a hard dependency
            raise EngineError("The Python package `docker` is not installed.", hint="pip install docker") from exc
        from docker.utils import kwargs_from_env

        # $DOCKER_HOST (and its TLS settings) like the docker CLI; never the CLI's contexts, which may
        # point a second client (e.g. /usr/local/bin/docker) at another daemon.
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else kwargs_from_env()
        kwargs["base_url"] = kwargs.get("base_url") or "unix:///var/run/docker.sock"
        url = str(kwargs["base_url"])
        try:
            client = docker.DockerClient(timeout=120, **kwargs)
            client.ping()
            stream_api = docker.APIClient(version=client.api.api_version, timeout=None, **kwargs)
        except Exception as exc:
            raise EngineError(
                f"No Docker engine answers at {url} ({type(exc).__name__}: {exc}). mwrelease runs tests and "
                "builds images in containers and needs a running Docker daemon that it can reach; set "
                "DOCKER_HOST if it listens elsewhere.", hint=HINT) from exc
        return cls(client, stream_api)

    # --- containers ------------------------------------------------------------------------
    @contextmanager
    def container(self, image: str, *, network_mode: str = "none", name: str | None = None,
                  mem_limit: str = "2g", pids_limit: int = 1024,
                  cap_drop: Sequence[str] = DEFAULT_CAP_DROP, keep: bool = False,
                  volumes: Mapping[str, Mapping[str, str]] | None = None,
                  labels: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
                  command: Sequence[str] = ("sleep", "infinity"),
                  tmpfs: Mapping[str, str] | None = None) -> Iterator[Container]:
        """Start a container that lives for the ``with`` block and is removed after it, whatever happens."""
        keep = keep or os.environ.get("MWRELEASE_KEEP_CONTAINERS", "") not in ("", "0")
        all_labels = {LABEL: "1", "mwrelease.pid": str(os.getpid()), "mwrelease.host": socket.gethostname(),
                      **(labels or {})}
        start = time.monotonic()
        obj: Any = None
        try:
            try:
                obj = self.client.containers.run(
                    image, list(command), detach=True, name=name, network_mode=network_mode,
                    mem_limit=mem_limit, pids_limit=pids_limit, cap_drop=list(cap_drop),
                    security_opt=["no-new-privileges"], labels=all_labels,
                    volumes=dict(volumes) if volumes else None, environment=dict(env) if env else None,
                    tmpfs=dict(tmpfs) if tmpfs else None, init=True)
            except _docker_errors() as exc:
                raise EngineError(f"Cannot start a container from {image}: {exc}",
                                  hint=f"Is the image built? Try `mwrelease images list`. {HINT}") from exc
            c = Container(engine=self, id=obj.id, name=obj.name, image=image,
                          started_in=time.monotonic() - start, _obj=obj)
            log.info("started container %s (%s) from %s in %.2f s", c.name, c.id[:12], image, c.started_in)
            yield c
        finally:
            if obj is not None:
                if keep:
                    log.warning("keeping container %s (%s)", obj.name, obj.id[:12])
                else:
                    self._remove(obj)

    def _remove(self, obj: Any) -> None:
        # A second Ctrl-C while removing must not leave the container behind: retry once, then re-raise.
        try:
            self._force_remove(obj)
        except KeyboardInterrupt:
            self._force_remove(obj)
            raise

    @staticmethod
    def _force_remove(obj: Any) -> None:
        import docker.errors

        try:
            obj.remove(force=True, v=True)
            log.debug("removed container %s", obj.name)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            log.warning("could not remove container %s: %s", obj.name, exc)

    def _owned(self) -> list[Any]:
        # mwrelease.pid is set only by Engine.container: image labels (mwrelease=1 on every mwrelease image)
        # are inherited by any container, including other tools' build containers.
        return list(self.client.containers.list(all=True, filters={"label": [f"{LABEL}=1", "mwrelease.pid"]}))

    def strays(self, *, all_owners: bool = False) -> list[str]:
        """Ids of containers left behind by mwrelease runs that are gone (killed, power loss).

        Containers of a run that is still alive on this host are not strays; with ``all_owners`` every
        mwrelease container is, even one a running test uses.
        """
        return [c.id for c in self._owned() if all_owners or _is_stray(c.labels)]

    def remove_own_containers(self) -> int:
        """Force-remove every container this process started; best effort (used while interrupted,
        when worker threads may still be inside a ``with engine.container``). Returns how many went."""
        removed = 0
        for obj in self.client.containers.list(all=True, filters={"label": f"mwrelease.pid={os.getpid()}"}):
            try:
                obj.remove(force=True, v=True)
                removed += 1
            except Exception:  # noqa: BLE001 - best effort while interrupted
                pass
        return removed

    def remove_strays(self, *, all_owners: bool = False) -> int:
        objs = [c for c in self._owned() if all_owners or _is_stray(c.labels)]
        for obj in objs:
            self._force_remove(obj)
        return len(objs)

    # --- images ----------------------------------------------------------------------------
    def build_image(self, tag: str, dockerfile_text: str, context_files: Mapping[str, bytes] | None = None,
                    labels: Mapping[str, str] | None = None, *, on_line: Callable[[str], None] | None = None,
                    build_args: Mapping[str, str] | None = None, network_mode: str = "host",
                    nocache: bool = False) -> str:
        """Build ``dockerfile_text`` with ``context_files`` and tag it. Returns the image id.

        Builds use the host network (``--network host``) so that apt reaches the host's Debian mirror;
        proxy variables of this process are passed as build args.
        """
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for rel, data in sorted({**(context_files or {}), "Dockerfile": dockerfile_text.encode()}.items()):
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        args = {k: v for k, v in os.environ.items()
                if k.lower() in ("http_proxy", "https_proxy", "no_proxy") and v}
        args.update(build_args or {})
        all_labels = {LABEL: "1", **(labels or {})}
        emit = on_line or (lambda line: log.info("%s", line))
        log.info("building %s", tag)
        image_id: str | None = None
        last: list[str] = []
        try:
            for item in self._stream_api.build(fileobj=buf, custom_context=True, tag=tag, labels=all_labels,
                                               network_mode=network_mode, rm=True, forcerm=True, decode=True,
                                               buildargs=args or None, pull=False, nocache=nocache):
                if "stream" in item:
                    for line in str(item["stream"]).rstrip("\n").split("\n"):
                        if line.strip():
                            last = (last + [line])[-30:]
                            emit(line)
                if "aux" in item and isinstance(item["aux"], dict) and "ID" in item["aux"]:
                    image_id = str(item["aux"]["ID"])
                if "error" in item:
                    raise EngineError(f"Building image {tag} failed: {str(item['error']).strip()}",
                                      details=last[-15:])
        except _docker_errors() as exc:
            raise EngineError(f"Building image {tag} failed: {exc}", details=last[-15:], hint=HINT) from exc
        if image_id is None:
            image_id = str(self.client.images.get(tag).id)
        return image_id

    def image_exists(self, tag: str) -> bool:
        return self.image(tag) is not None

    def image(self, tag: str) -> ImageInfo | None:
        import docker.errors

        try:
            return _info(self.client.images.get(tag))
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise EngineError(f"Cannot inspect image {tag}: {exc}") from exc

    def list_images(self, label: str = LABEL) -> list[ImageInfo]:
        """Images carrying ``label`` (``key`` or ``key=value``)."""
        return [_info(i) for i in self.client.images.list(filters={"label": label})]

    def tag_image(self, image: str, repository: str, tag: str) -> None:
        self.client.images.get(image).tag(repository, tag)

    def remove_image(self, tag_or_id: str, *, force: bool = False) -> None:
        import docker.errors

        try:
            self.client.images.remove(tag_or_id, force=force, noprune=False)
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            raise EngineError(f"Cannot remove image {tag_or_id}: {exc}") from exc

    def pull(self, ref: str) -> None:
        try:
            self.client.images.pull(ref)
        except _docker_errors() as exc:
            raise EngineError(f"Cannot pull {ref}: {exc}",
                              hint="Without a registry, use MWRELEASE_BASE_IMAGES=debootstrap and "
                                   "ci/prepare-machine.sh.") from exc


def _info(img: Any) -> ImageInfo:
    attrs = img.attrs
    return ImageInfo(id=str(img.id), tags=tuple(img.tags), labels=dict(img.labels or {}),
                     created=str(attrs.get("Created", "")), size=int(attrs.get("Size", 0)))


def _is_stray(labels: Mapping[str, str]) -> bool:
    if labels.get("mwrelease.host") != socket.gethostname():
        return False  # another machine's run: cannot tell whether it is alive
    try:
        os.kill(int(labels.get("mwrelease.pid", "0")), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _docker_errors() -> tuple[type[BaseException], ...]:
    import docker.errors
    import requests.exceptions

    return (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError)
