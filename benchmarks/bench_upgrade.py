"""Benchmark: the read-only window and total time of `mwrelease upgrade` 1.39 -> 1.43 on a wiki with
1,000 pages, beside the time update.php alone takes on the same data.

    python benchmarks/bench_upgrade.py [--pages 1000] [--runs 1]

Needs the Docker engine and the core images (ci/prepare-machine.sh). Everything runs in one container
made from the 1.39 core image (the admin's server, see tests/fixtures/upgrade/harness.py):

1. update.php alone: the 1.43 tree unpacked by hand beside the wiki, LocalSettings.php and the custom
   extension copied in, then `php maintenance/run.php update --quick` timed. This is the floor: any
   upgrade of this wiki needs at least this long with writes blocked.
2. mwrelease upgrade on a fresh copy of the same wiki: the read-only window (from $wgReadOnly on to off:
   backup, staging of settings/images/extensions, update.php, switch, health check) and the total
   (including download, unpack and verification of ~27,000 files, done before read-only starts).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "upgrade"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()

    import harness
    from mwrelease.runner.engine import Engine

    engine = Engine.connect()
    channel, old_v, new_v = harness.build_artifacts(engine)
    wheelhouse = harness.build_wheelhouse()
    floor: list[float] = []
    windows: list[float] = []
    totals: list[float] = []
    inner_update: list[float] = []
    steps: dict[str, list[float]] = {}
    t_setup = time.monotonic()
    for server in harness.admin_server(engine, wheelhouse, channel, old_v, new_v, pages=args.pages):
        setup = time.monotonic() - t_setup
        count = server.sh("sqlite3 /var/www/data/wiki.sqlite 'SELECT COUNT(*) FROM page'").stdout.strip()
        by_ns = server.sh("sqlite3 /var/www/data/wiki.sqlite "
                          "'SELECT page_namespace, COUNT(*) FROM page GROUP BY page_namespace'").stdout.split()
        revs = server.sh("sqlite3 /var/www/data/wiki.sqlite 'SELECT COUNT(*) FROM revision'").stdout.strip()
        db_size = server.sh("du -sh /var/www/data | cut -f1").stdout.strip()
        for _ in range(args.runs):
            server.reset()
            server.sh(f"mkdir -p /var/www/bench && tar -C /var/www/bench -xzf /srv/channel/mediawiki-{new_v}.tar.gz && "
                      f"cd /var/www/bench/mediawiki-{new_v} && cp {harness.WIKI}/LocalSettings.php . && "
                      f"cp -r {harness.WIKI}/extensions/MwrTestKeep extensions/")
            t = time.monotonic()
            server.sh(f"cd /var/www/bench/mediawiki-{new_v} && php maintenance/run.php update --quick", timeout=3600)
            floor.append(time.monotonic() - t)
            server.reset()
            r = server.upgrade()
            env = json.loads(r.stdout)
            if r.exit_code != 0:
                print(r.output[-3000:], file=sys.stderr)
                return 1
            stop = env["data"]["stops"][0]
            hist = json.loads(server.sh("cat /var/www/.mwrelease/history.json").stdout)["entries"][-1]
            for step in hist["steps"]:
                steps.setdefault(step["name"], []).append(float(step.get("seconds") or 0))
            windows.append(stop["read_only_seconds"])
            totals.append(stop["total_seconds"])
            inner_update.append(stop["update_seconds"])
        break
    med = statistics.median
    print(f"MediaWiki {old_v} -> {new_v}, SQLite, {count} pages (namespace|count: {' '.join(by_ns)}), {revs} "
          f"revisions, {db_size} database; {args.runs} run(s); setup {setup:.0f} s")
    print(f"  update.php alone (run.php update --quick):   {med(floor):7.1f} s")
    print(f"  mwrelease upgrade, read-only window:          {med(windows):7.1f} s")
    print(f"    of which update.php inside the upgrade:     {med(inner_update):7.1f} s")
    print(f"  mwrelease upgrade, total:                     {med(totals):7.1f} s")
    print(f"  window / update.php alone:                    {med(windows) / med(floor):7.2f}x")
    print("  steps (median s; read-only from 'readonly' to 'live'): "
          + ", ".join(f"{name} {med(v):.2f}" for name, v in steps.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
