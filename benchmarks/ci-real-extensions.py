"""`mwrelease ci` on the real extension trees (ci/extension-trees.sh first): a checkout of each
extension's REL1_39 and REL1_43 branch, tested on its own line; one JSON line per (extension, line).

    python benchmarks/ci-real-extensions.py OUT_DIR [NAME ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT = REPO / ".cache" / "extension-git"


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    names = sys.argv[2:] or sorted(p.name[:-4] for p in GIT.glob("*.git"))
    out.mkdir(parents=True, exist_ok=True)
    catalogs = [a for p in sorted(GIT.glob("*.git")) for a in ("--catalog", f"git:{p}")]
    for name in names:
        for line in ("1.39", "1.43"):
            branch = "REL" + line.replace(".", "_")
            work = out / "checkouts" / f"{name}-{branch}"
            if subprocess.run(["git", "--git-dir", str(GIT / f"{name}.git"), "rev-parse", "--verify", "-q",
                               branch], capture_output=True).returncode:
                print(json.dumps({"name": name, "line": line, "status": "no-tree"}), flush=True)
                continue
            if not work.exists():
                subprocess.run(["git", "clone", "-q", "-b", branch, str(GIT / f"{name}.git"), str(work)], check=True)
            t0 = time.monotonic()
            p = subprocess.run([sys.executable, "-m", "mwrelease", "ci", str(work), "--line", line,
                                "--out", str(out / f"{name}-{line}"), *catalogs,
                                "--catalog", f"core:{REPO / '.cache' / 'cores' / line}", "--json"],
                               capture_output=True, text=True, cwd=work)
            took = time.monotonic() - t0
            try:
                env = json.loads(p.stdout)
            except ValueError:
                env = {"errors": [{"message": p.stderr[-500:]}], "data": None}
            data = env.get("data") or {}
            cells = (data.get("results") or {}).get("cells", [])
            row = {"name": name, "line": line, "exit_code": p.returncode, "seconds": round(took, 1),
                   "needs_composer": (data.get("needs_composer") or {}).get(line),
                   "not_tested": (data.get("not_tested") or {}).get(line),
                   "cells": {c["id"]: c["status"] for c in cells},
                   "failed": {c["id"]: [(k["name"], k["message"][:200], k["blame"]) for k in c["checks"]
                                        if k["required"] and k["status"] in ("failed", "error")][:5] for c in cells},
                   "warm": [c.get("warm") for c in cells], "durations": [c.get("duration") for c in cells],
                   "errors": [e.get("message", "")[:400] for e in env.get("errors", [])]}
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
