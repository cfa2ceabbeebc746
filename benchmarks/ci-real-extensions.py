"""`mwrelease ci` on the real extension trees (ci/extension-trees.sh first): a checkout of each
extension's REL1_39 and REL1_43 branch, tested on its own line; one JSON line per (extension, line).

    python benchmarks/ci-real-extensions.py OUT_DIR [NAME ...] > rows.jsonl
    python benchmarks/ci-real-extensions.py --table rows.jsonl      # the README table
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
                                "--out-dir", str(out / f"{name}-{line}"), *catalogs,
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
                   "errors": [(e.get("message", "") + " " + " ".join(e.get("details") or []))[:400]
                              for e in env.get("errors", [])]}
            print(json.dumps(row), flush=True)




def table(jsonl: Path) -> str:
    """The README table from the JSON lines (the last row per extension and line wins)."""
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for text in jsonl.read_text().splitlines():
        r = json.loads(text)
        rows[(str(r["name"]), str(r["line"]))] = r
    names = sorted({n for n, _ in rows}, key=str.lower)
    out = ["| extension | 1.39 | 1.43 |", "|---|---|---|"]
    for n in names:
        cols = []
        for line in ("1.39", "1.43"):
            r = rows.get((n, line), {"status": "not run"})
            cols.append(_outcome(r))
        out.append(f"| {n} | {cols[0]} | {cols[1]} |")
    return "\n".join(out)


def _outcome(r: dict[str, object]) -> str:
    if r.get("status") == "no-tree":
        return "no tree (no REL branch archived)"
    if r.get("needs_composer"):
        return "**needs-composer**: " + ", ".join(r["needs_composer"])  # type: ignore[arg-type]
    if r.get("exit_code") == 5:
        return "unresolvable: " + "; ".join(r.get("errors") or [])  # type: ignore[arg-type]
    cells = r.get("cells") or {}
    if not cells:
        return f"not run ({'; '.join(r.get('errors') or []) or r.get('status', '')})"  # type: ignore[arg-type]
    status = "/".join(sorted(set(cells.values())))  # type: ignore[union-attr]
    failed = [f"{n}" for fs in (r.get("failed") or {}).values() for n, *_ in fs]  # type: ignore[union-attr]
    secs = ", ".join(f"{d:.0f} s" for d in r.get("durations") or [])  # type: ignore[union-attr]
    return f"{status} ({secs})" + (f": {', '.join(failed)}" if failed else "")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        print(table(Path(sys.argv[2])))
    else:
        main()
