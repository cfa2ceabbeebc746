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

import io
import logging
import os
import socket
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mwrelease.errors import EngineError
# A container and what runs in it live in runner.container; re-exported for the engine's callers.
from mwrelease.runner.container import HINT as HINT
from mwrelease.runner.container import TIMEOUT_EXIT as TIMEOUT_EXIT
from mwrelease.runner.container import CommandFailed as CommandFailed
from mwrelease.runner.container import Container as Container
from mwrelease.runner.container import ExecResult as ExecResult
from mwrelease.runner.container import docker_errors
from mwrelease.runner.sandbox import Sandbox as Sandbox

log = logging.getLogger("mwrelease.engine")

LABEL = "mwrelease"
# Capabilities a MediaWiki test or a database server never needs. CHOWN/SETUID/SETGID/DAC_OVERRIDE/FOWNER
# stay: apt, runuser and the database servers' own privilege drop use them.
DEFAULT_CAP_DROP: tuple[str, ...] = ("NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP", "NET_BIND_SERVICE")


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
                  tmpfs: Mapping[str, str] | None = None,
                  limits: Sandbox | None = None) -> Iterator[Container]:
        """Start a container that lives for the ``with`` block and is removed after it, whatever happens.

        ``limits`` tightens it further (see ``Sandbox``): another user, a read-only root filesystem with
        size-limited tmpfs where it writes, a CPU quota, ulimits."""
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
                    tmpfs={**(tmpfs or {}), **(limits.tmpfs_options() if limits else {})} or None, init=True,
                    # The engine's own log of the container (its main process only) stays small.
                    log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
                    **(limits.run_options() if limits else {}))
            except docker_errors() as exc:
                raise EngineError(f"Cannot start a container from {image}: {exc}",
                                  hint=f"Is the image built? Try `mwrelease images list`. {HINT}") from exc
            c = Container(api=self._stream_api, id=obj.id, name=obj.name, image=image,
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
        except docker_errors() as exc:
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
        except docker_errors() as exc:
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
