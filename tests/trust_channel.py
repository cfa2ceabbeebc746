"""Test helper: signed channels built with python-tuf's Metadata API, in the layout of TRUST-CONTRACT.md, and a
loopback HTTP server for them.

The repository side proper (mwrelease/trust/repo.py, branch `trust`) builds real channels; this helper lets the
client's attack tests forge exactly the metadata an attacker would, which a correct repository tool never writes.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp)

from mwrelease.release.channel import CHANNEL_FORMAT
from mwrelease.release.manifest import Manifest

NAME = "x-mwrelease-name"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class SignedChannel:
    """A TUF channel: root (chairs), targets (SIG members, threshold K), snapshot + timestamp (one online key)."""

    def __init__(self, directory: Path, *, members: tuple[str, ...] = ("alice", "bob", "carol"), threshold: int = 2,
                 chairs: tuple[str, ...] = ("chair",), root_threshold: int = 1) -> None:
        self.dir = directory
        (directory / "metadata").mkdir(parents=True, exist_ok=True)
        (directory / "targets").mkdir(exist_ok=True)
        self.signers: dict[str, Signer] = {}
        self.root = Metadata(Root(expires=_now() + dt.timedelta(days=365), consistent_snapshot=True))
        for name in chairs:
            self.add_key(name, "root")
        self.root.signed.roles["root"].threshold = root_threshold
        for name in members:
            self.add_key(name, "targets")
        self.root.signed.roles["targets"].threshold = threshold
        self.add_key("online", "snapshot")
        self.root.signed.add_key(self.key("online"), "timestamp")
        self.targets = Metadata(Targets(expires=_now() + dt.timedelta(days=365)))
        self.snapshot = Metadata(Snapshot(expires=_now() + dt.timedelta(days=7)))
        self.timestamp = Metadata(Timestamp(expires=_now() + dt.timedelta(days=1)))
        self.releases: list[dict[str, Any]] = []
        self.write_root(*chairs)
        self._published = False

    # -- keys and root --------------------------------------------------------------------------------
    def new_signer(self, name: str) -> Signer:
        signer = CryptoSigner.generate_ed25519()
        self.signers[name] = signer
        return signer

    def key(self, name: str) -> Any:
        key = self.signers[name].public_key
        key.unrecognized_fields[NAME] = name
        return key

    def add_key(self, name: str, role: str) -> None:
        if name not in self.signers:
            self.new_signer(name)
        self.root.signed.add_key(self.key(name), role)

    def write_root(self, *signer_names: str) -> bytes:
        self.root.signatures.clear()
        for n in signer_names:
            self.root.sign(self.signers[n], append=True)
        data = self.root.to_bytes()
        (self.dir / "metadata" / f"{self.root.signed.version}.root.json").write_bytes(data)
        (self.dir / "metadata" / "root.json").write_bytes(data)
        return data

    def rotate_root(self, *, signed_by: tuple[str, ...], change: Any = None) -> bytes:
        """A new root version: ``change(root.signed)`` edits it; ``signed_by`` must hold the old and new thresholds."""
        self.root.signed.version += 1
        if change:
            change(self.root.signed)
        return self.write_root(*signed_by)

    def root_sha256(self) -> str:
        return hashlib.sha256((self.dir / "metadata" / "1.root.json").read_bytes()).hexdigest()

    # -- targets --------------------------------------------------------------------------------------
    def add_file(self, name: str, data: bytes, custom: dict[str, Any] | None = None) -> TargetFile:
        t = TargetFile.from_data(name, data, ["sha256"])
        if custom:
            t.unrecognized_fields["custom"] = custom
        self.targets.signed.targets[name] = t
        (self.dir / "targets" / f"{t.hashes['sha256']}.{name}").write_bytes(data)
        return t

    def target_path(self, name: str) -> Path:
        t = self.targets.signed.targets[name]
        return self.dir / "targets" / f"{t.hashes['sha256']}.{name}"

    def add_release(self, version: str, artifact: bytes | None = None) -> dict[str, Any]:
        """A release: artifact, manifest, and index.json listing every release so far (all TUF targets)."""
        line = ".".join(version.split(".")[:2])
        art_name = f"mediawiki-{version}.tar.gz"
        artifact = artifact if artifact is not None else hashlib.sha256(version.encode()).digest() * 4096
        m = Manifest(name=f"mediawiki-{version}", core_version=version, core_line=line, files=(),
                     artifact_file=art_name, upgrades_from_lines=(line,))
        mbytes = m.dumps().encode()
        mname = f"mediawiki-{version}.manifest.json"
        self.add_file(art_name, artifact, {"mwrelease": {"version": version, "line": line, "core_version": version,
                                                           "lock_sha256": "0" * 64, "seal_sha256": "1" * 64,
                                                           "verdict": "sealed"}})
        self.add_file(mname, mbytes)
        rel = {"version": version, "php": ">= 8.1.0", "databases": ["sqlite"], "upgrades_from": [line],
               "manifest": {"file": mname, "sha256": hashlib.sha256(mbytes).hexdigest(), "tree_sha256": m.tree_sha256},
               "artifacts": [{"kind": "full", "file": art_name, "sha256": hashlib.sha256(artifact).hexdigest(),
                              "size": len(artifact)}]}
        self.releases.append(rel)
        lines: dict[str, Any] = {}
        for r in self.releases:
            ln = ".".join(r["version"].split(".")[:2])
            lines.setdefault(ln, {"line": ln, "lts": False, "releases": []})["releases"].append(r)
        index = {"format": CHANNEL_FORMAT, "updated": "2026-12-01T00:00:00Z", "lines": lines, "signatures": []}
        self.add_file("index.json", json.dumps(index, indent=2).encode())
        return rel

    # -- publishing -----------------------------------------------------------------------------------
    def sign_targets(self, *approvers: str) -> bytes:
        self.targets.signatures.clear()
        for n in approvers:
            self.targets.sign(self.signers[n], append=True)
        return self.targets.to_bytes()

    def publish(self, approvers: tuple[str, ...] = ("alice", "bob"), *, timestamp_expires: dt.datetime | None = None,
                pasted: dict[str, Any] | None = None) -> None:
        """The next targets version signed by ``approvers``, then snapshot and timestamp (written last)."""
        if self._published:
            self.targets.signed.version += 1
            self.snapshot.signed.version += 1
            self.timestamp.signed.version += 1
        self._published = True
        self.sign_targets(*approvers)
        self.targets.signatures.update(pasted or {})  # signatures made over other bytes, copied in
        data = self.targets.to_bytes()
        (self.dir / "metadata" / f"{self.targets.signed.version}.targets.json").write_bytes(data)
        self.snapshot.signed.meta["targets.json"] = MetaFile(version=self.targets.signed.version)
        self.write_snapshot()
        self.write_timestamp(expires=timestamp_expires)

    def write_snapshot(self, signer: str = "online") -> None:
        self.snapshot.signatures.clear()
        self.snapshot.sign(self.signers[signer])
        (self.dir / "metadata" / f"{self.snapshot.signed.version}.snapshot.json").write_bytes(self.snapshot.to_bytes())

    def write_timestamp(self, *, expires: dt.datetime | None = None, signer: str = "online") -> None:
        self.timestamp.signed.expires = expires or (_now() + dt.timedelta(days=1))
        self.timestamp.signed.snapshot_meta = MetaFile(version=self.snapshot.signed.version)
        self.timestamp.signatures.clear()
        self.timestamp.sign(self.signers[signer])
        (self.dir / "metadata" / "timestamp.json").write_bytes(self.timestamp.to_bytes())

    def save_state(self, to: Path) -> Path:
        """A copy of the channel as served now (to replay it later, as an attacker or a stale mirror would)."""
        shutil.copytree(self.dir, to)
        return to

    def copy_targets(self) -> Metadata[Targets]:
        return copy.deepcopy(self.targets)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """A plain http.server for a directory on 127.0.0.1 (an ephemeral port), in a thread; `directory` can change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        outer = self

        class Handler(_Quiet):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, directory=str(outer.directory), **kw)

            def handle(self) -> None:
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cut off an over-long download: that is the point

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(directory: Path) -> Iterator[LoopbackServer]:
    with LoopbackServer(directory) as s:
        yield s


# --- real channels, made by the SIG side (mwrelease/trust/repo.py) -------------------------------------------

def named_signer(name: str) -> Any:
    """A throwaway ed25519 signer whose public key carries its member name, as keys.load_signer gives it."""
    signer = CryptoSigner.generate_ed25519()
    signer.public_key.unrecognized_fields[NAME] = name
    return signer


class SigChannel:
    """A signed channel written by the repository side's own functions: sig init, release propose, members
    approve, channel publish (with throwaway keys). Attack tests then tamper with what it wrote."""

    def __init__(self, directory: Path, *, members: tuple[str, ...] = ("alice", "bob", "carol"),
                 threshold: int = 2) -> None:
        from mwrelease.trust import repo

        self.dir = directory
        self.chair = named_signer("chair")
        self.online = named_signer("online")
        self.members = {n: named_signer(n) for n in members}
        spec = repo.RootSpec(root_keys=(self.chair.public_key,), root_threshold=1,
                             members=tuple(s.public_key for s in self.members.values()), threshold=threshold,
                             online_key=self.online.public_key, expiry=dict(repo.DEFAULT_EXPIRY))
        repo.init(directory, spec, [self.chair])

    def release(self, artifact: Path, *, approvers: tuple[str, ...] = ("alice", "bob"),
                proposals: Path | None = None) -> dict[str, Any]:
        """Propose the release whose full artifact (with its manifest and SHA256SUMS beside it) is ``artifact``,
        approve it by ``approvers`` and publish it."""
        from mwrelease.trust import repo

        out = (proposals or self.dir.parent / "proposals") / artifact.name
        why = "test channel: the release was not sealed"
        prop = repo.propose(self.dir, artifact, out_dir=out, override_reason=why)
        for n in approvers:
            repo.approve(prop, self.members[n], override_reason=why)
        return repo.publish(prop, self.dir, self.online)

    def root_sha256(self) -> str:
        return hashlib.sha256((self.dir / "metadata" / "1.root.json").read_bytes()).hexdigest()

    def target_file(self, name: str) -> Path:
        (hit,) = list((self.dir / "targets").glob(f"*.{name}"))
        return hit


def one_release(path: Path) -> SignedChannel:
    """A signed channel with release 1.43.1, approved by alice and bob."""
    ch = SignedChannel(path)
    ch.add_release("1.43.1")
    ch.publish(("alice", "bob"))
    return ch
