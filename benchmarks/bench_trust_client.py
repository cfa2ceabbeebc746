"""What verifying a signed channel costs the admin: TUF refresh + verification + verified download of an artifact,
beside an unverified download of the same artifact, both over http.server on 127.0.0.1.

    python benchmarks/bench_trust_client.py                   # a 4 MB artifact, 5 rounds
    python benchmarks/bench_trust_client.py --mb 30 --rounds 3 --releases 150 --json out.json

The channel is built with python-tuf's Metadata API (tests/trust_channel.py): root (1 chair), targets signed by
2 of 3 members, online snapshot/timestamp key, ``--releases`` releases (artifact + manifest each) so the targets
metadata has a realistic size. Each round uses a fresh trust store (a first contact after `channel trust`: root,
timestamp, snapshot and targets all downloaded and verified) and, separately, a warm store (the metadata already
verified once: what a second `upgrade` pays).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mwrelease.release.channel import ChannelClient  # noqa: E402
from mwrelease.trust.client import TrustedChannel, trust_channel  # noqa: E402
from tests.trust_channel import LoopbackServer, SignedChannel  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=4, help="artifact size in MB")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--releases", type=int, default=30, help="releases listed in the signed targets metadata")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-trust-") as tmp:
        t = Path(tmp)
        ch = SignedChannel(t / "channel")
        for i in range(args.releases - 1):
            ch.add_release(f"1.42.{i}", artifact=os.urandom(64))
        version = "1.43.1"
        ch.add_release(version, artifact=os.urandom(args.mb << 20))
        ch.publish()
        # The same channel laid out the old, unsigned way (index.json + artifact by name) for the baseline.
        plain = t / "plain"
        plain.mkdir()
        for name in ("index.json", f"mediawiki-{version}.tar.gz"):
            os.link(ch.target_path(name), plain / name)
        meta_bytes = sum(p.stat().st_size for p in (ch.dir / "metadata").iterdir())

        cold: list[dict[str, float]] = []
        warm: list[dict[str, float]] = []
        unverified: list[float] = []
        with LoopbackServer(ch.dir) as srv, LoopbackServer(plain) as psrv:
            for r in range(args.rounds):
                store = t / f"store-{r}"
                os.environ["MWRELEASE_TRUST_DIR"] = str(store)
                trust_channel(srv.url, root_sha256=ch.root_sha256())
                for runs in (cold, warm):
                    if runs is cold:
                        # forget everything but the anchor: a first refresh after `channel trust`
                        for p in (store.iterdir().__next__() / "metadata").glob("*.json"):
                            if not p.is_symlink():
                                p.unlink()
                    dl = t / f"dl-{r}-{'cold' if runs is cold else 'warm'}"
                    t0 = time.perf_counter()
                    tc = TrustedChannel(srv.url)
                    tc.refresh()
                    t1 = time.perf_counter()
                    idx = tc.index()
                    rel = idx.find(version)
                    assert rel is not None
                    tc.manifest(rel.manifest_file, rel.manifest_sha256)
                    t2 = time.perf_counter()
                    tc.download(rel.full(), dl)
                    t3 = time.perf_counter()
                    runs.append({"refresh": t1 - t0, "index_manifest": t2 - t1, "artifact": t3 - t2, "total": t3 - t0})
                dl = t / f"plain-{r}"
                t0 = time.perf_counter()
                c = ChannelClient(psrv.url)
                rel2 = c.index().find(version)
                assert rel2 is not None
                c.download(rel2.full(), dl)
                unverified.append(time.perf_counter() - t0)

    def med(rows: list[dict[str, float]], k: str) -> float:
        return statistics.median(x[k] for x in rows)

    out: dict[str, Any] = {
        "artifact_mb": args.mb, "releases": args.releases, "rounds": args.rounds, "metadata_bytes": meta_bytes,
        "verified_first_contact": {k: med(cold, k) for k in cold[0]},
        "verified_warm": {k: med(warm, k) for k in warm[0]},
        "unverified_index_and_artifact": statistics.median(unverified),
    }
    print(f"artifact {args.mb} MB, {args.releases} releases in the signed targets metadata "
          f"({meta_bytes / 1024:.0f} KiB of metadata), median of {args.rounds} rounds, http.server on 127.0.0.1")
    for label, key in (("verified, first contact", "verified_first_contact"), ("verified, warm store", "verified_warm")):
        d = out[key]
        print(f"  {label:24} refresh+verify {d['refresh'] * 1000:7.1f} ms   index+manifest "
              f"{d['index_manifest'] * 1000:6.1f} ms   artifact {d['artifact'] * 1000:7.1f} ms   total "
              f"{d['total'] * 1000:7.1f} ms")
    print(f"  {'unverified (sha256 only)':24} index + artifact {out['unverified_index_and_artifact'] * 1000:7.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
