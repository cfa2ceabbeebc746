"""Validation through the real entry point: version flags, duplicate YAML keys, YAML type slips,
structured problems for CI, HTTP errors in one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from mwrelease.release.httperrors import describe_http_error

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mwrelease", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300, stdin=subprocess.DEVNULL)


BUNDLE = """name: t
core: {line: "1.43"}
php: [8.2]
extensions:
  Babel: {}
  Cite: {}
  Babel: {}
"""


def test_matrix_rejects_a_core_typo_like_resolve(tmp_path: Path) -> None:
    r = cli("matrix", "--catalog", str(tmp_path), "--core", "1.43.0,1.43.x")
    assert r.returncode == 3 and "'1.43.x' is not a MediaWiki core line or version" in r.stderr, r.stderr


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path: Path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text(BUNDLE)
    r = cli("bundle", "validate", str(f), "--json")
    assert r.returncode == 3
    (problem,) = json.loads(r.stdout)["errors"][0]["problems"]
    assert problem == {"file": str(f), "line": 7, "key": "extensions.Babel",
                       "message": "duplicate key 'Babel' (lines 5 and 7); YAML would silently keep only the last"}


def test_a_number_where_a_string_belongs_gets_the_quote_hint(tmp_path: Path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text(BUNDLE.replace("  Babel: {}\n", "", 1))
    r = cli("bundle", "validate", str(f), "--json")
    problems = json.loads(r.stdout)["errors"][0]["problems"]
    php = [p for p in problems if p["key"] == "php.0"]
    assert r.returncode == 3 and php and php[0]["line"] == 3 and "write it in quotes, '8.2'" in php[0]["message"]
    assert all(set(p) == {"file", "line", "key", "message"} for p in problems)


def test_an_unreachable_channel_is_one_sentence_with_the_url(tmp_path: Path) -> None:
    (tmp_path / "LocalSettings.php").write_text("<?php\n")
    (tmp_path / "includes").mkdir()
    (tmp_path / "includes" / "Defines.php").write_text("<?php\ndefine( 'MW_VERSION', '1.39.1' );\n")
    r = cli("status", "--wiki", str(tmp_path), "--channel", "http://127.0.0.1:9/", "--allow-unsigned")
    assert r.returncode == 4, r.stderr
    first = next(line for line in r.stderr.splitlines() if line.startswith("error:"))
    assert "http://127.0.0.1:9/index.json" in first and "refused" in first, r.stderr
    assert "HTTPConnectionPool" not in r.stderr and "Max retries" not in r.stderr


def test_http_status_is_named() -> None:
    resp = requests.Response()
    resp.status_code, resp.reason = 404, "Not Found"
    assert describe_http_error(requests.HTTPError(response=resp)) == "the server answered HTTP 404 Not Found"
