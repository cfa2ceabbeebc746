"""Figures for issue 9 (repository side): metadata bytes of a signed channel with 3 lines x 50 releases,
and the time to publish into it. A benchmark, not a test: run `python benchmarks/bench_trust.py [--releases 50]`.

Each release is a real (tiny) `release build` output with a delta from the previous release of its line, proposed
(`trust.proposal.propose`: index, SBOM, targets), approved by 2 of 3 members and published with the online key.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mwrelease.lock import Lock  # noqa: E402
from mwrelease.release.build import build_release  # noqa: E402
from mwrelease.trust import keys  # noqa: E402
from mwrelease.trust.layout import DEFAULT_EXPIRY, INDEX_TARGET, Channel  # noqa: E402
from mwrelease.trust.proposal import propose  # noqa: E402
from mwrelease.trust.publish import approve, publish, refresh  # noqa: E402
from mwrelease.trust.root import RootSpec, init  # noqa: E402

LINES = ("1.39", "1.42", "1.43")


def make_core(root: Path, version: str) -> Path:
    files = {"index.php": "<?php // index\n", "includes/Defines.php": f"<?php\ndefine( 'MW_VERSION', '{version}' );\n",
             "composer.json": json.dumps({"require": {"php": ">=8.1.0"}}), "maintenance/update.php": "<?php\n",
             "extensions/Cite/extension.json": json.dumps({"name": "Cite", "version": "1.0",
                                                          "license-name": "GPL-2.0-or-later"}),
             "skins/Vector/skin.json": json.dumps({"name": "Vector", "license-name": "GPL-2.0-or-later"}),
             "vendor/autoload.php": "<?php\n", "RELEASE-NOTES": f"MediaWiki {version}\n"}
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--releases", type=int, default=50, help="releases per line (default 50)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        names = ("chair1", "chair2", "alice", "bob", "carol", "online")
        signers, publics = {}, {}
        for n in names:
            priv, pub = keys.generate_key(n, t / "keys", "pw")
            signers[n], publics[n] = keys.load_signer(priv, "pw"), keys.load_public(pub)
        ch = t / "channel"
        init(ch, RootSpec(root_keys=(publics["chair1"], publics["chair2"]), root_threshold=2,
                          members=(publics["alice"], publics["bob"], publics["carol"]), threshold=2,
                          online_key=publics["online"], expiry=dict(DEFAULT_EXPIRY)),
             [signers["chair1"], signers["chair2"]])
        build_s, propose_s, approve_s, publish_s = [], [], [], []
        previous: dict[str, Path] = {}
        for i in range(args.releases):
            for line in LINES:
                v = f"{line}.{i}"
                lock = Lock(bundle=f"tarball-{line}", flavor="tarball", core_version=v, core_line=line, php=("8.2",),
                            databases=("sqlite",), components=())
                out = t / "releases" / v
                t0 = time.perf_counter()
                arts = build_release(lock, make_core(t / "cores" / v, v), out, previous=previous.get(line))
                build_s.append(time.perf_counter() - t0)
                previous[line] = arts[0].manifest_path
                t0 = time.perf_counter()
                prop = propose(ch, out, out_dir=t / "proposals" / v)
                propose_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for m in ("alice", "bob"):
                    approve(prop, signers[m], override_reason="benchmark: no seal")
                approve_s.append((time.perf_counter() - t0) / 2)
                t0 = time.perf_counter()
                publish(prop, ch, signers["online"])
                publish_s.append(time.perf_counter() - t0)
        c = Channel(ch)
        tv = c.targets_version()
        snap = c.snapshot()
        assert snap is not None
        current = {"root": ch / "metadata/root.json", "targets": ch / f"metadata/{tv}.targets.json",
                   "snapshot": ch / f"metadata/{snap.signed.version}.snapshot.json",
                   "timestamp": ch / "metadata/timestamp.json"}
        sizes = {k: p.stat().st_size for k, p in current.items()}
        targets = c.targets()
        assert targets is not None
        index_len = targets.signed.targets[INDEX_TARGET].length
        history = sum(p.stat().st_size for p in (ch / "metadata").glob("*.json"))
        n = len(publish_s)
        t0 = time.perf_counter()
        refresh(ch, signers["online"])
        refresh_s = time.perf_counter() - t0
        # The admin side of `channel show`: every release's approvers from its own (verified) targets version.
        from mwrelease.trust.client import TrustedChannel, trust_channel
        from mwrelease.trust.show import verified_releases

        store = t / "admin-trust"
        t0 = time.perf_counter()
        trust_channel(str(ch), root_file=ch / "metadata/1.root.json", store=store)
        trust_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        shown = verified_releases(TrustedChannel(str(ch), store=store))
        show_s = time.perf_counter() - t0
        assert len(shown["releases"]) == n and all(r["approved_by"] for r in shown["releases"])
        print(f"channel: {len(LINES)} lines x {args.releases} releases = {n} releases, "
              f"{len(targets.signed.targets)} targets (full + delta artifacts, manifests, SBOMs, index.json)")
        print("metadata a client fetches on first contact (bytes): " + ", ".join(f"{k} {v}" for k, v in sizes.items())
              + f"; total {sum(sizes.values())} (+ index.json target {index_len})")
        print(f"per release in targets.json: {sizes['targets'] / n:.0f} bytes")
        print(f"all metadata versions kept on disk (consistent snapshots): {history} bytes")
        print(f"publish (verify K signatures, write targets, snapshot, timestamp): first {publish_s[0] * 1000:.1f} ms, "
              f"last {publish_s[-1] * 1000:.1f} ms, median {statistics.median(publish_s) * 1000:.1f} ms, "
              f"total {sum(publish_s):.2f} s for {n}")
        print(f"propose: median {statistics.median(propose_s) * 1000:.1f} ms, last {propose_s[-1] * 1000:.1f} ms; "
              f"approve: median {statistics.median(approve_s) * 1000:.1f} ms; "
              f"refresh (snapshot + timestamp): {refresh_s * 1000:.1f} ms; build (tiny tree): "
              f"median {statistics.median(build_s) * 1000:.1f} ms")
        print(f"admin: channel trust (first refresh, verify root/timestamp/snapshot/targets) {trust_s * 1000:.0f} ms; "
              f"verified channel show of {n} releases (each release's targets version fetched and verified) "
              f"{show_s:.2f} s")


if __name__ == "__main__":
    main()
