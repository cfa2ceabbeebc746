"""Health check of a wiki after the switch: over HTTP (the admin's URL), or through PHP when there is none."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwrelease.errors import UpgradeError
from mwrelease.upgrade.inspect import eval_settings


@dataclass(kw_only=True)
class Health:
    ok: bool
    version: str | None
    extensions: list[str]
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "version": self.version, "extensions": self.extensions, "problems": self.problems,
                "checks": self.checks, "seconds": round(self.seconds, 2)}


_BAD_MARKERS = ("MediaWiki internal error", "Fatal error", "Fatal exception", "[Exception ", "Parse error:")


def http_check(url: str, *, expect_version: str, expect_extensions: list[str], timeout: float = 120.0,
               attempts: int = 3) -> Health:
    """GET the main page, API siteinfo (generator, extensions) and a parse; all must be right."""
    import requests

    t0 = time.monotonic()
    base = url.rstrip("/")
    problems: list[str] = []
    checks: list[str] = []
    version: str | None = None
    names: list[str] = []
    session = requests.Session()

    def get(path: str, params: dict[str, str] | None = None) -> Any:
        last: Exception | None = None
        for i in range(attempts):
            try:
                # The first request after an upgrade rebuilds the localisation cache: allow it time.
                return session.get(f"{base}/{path}", params=params, timeout=timeout)
            except requests.RequestException as exc:
                last = exc
                time.sleep(1 + i)
        raise UpgradeError(f"The wiki at {base} does not answer: {last}.")

    try:
        r = get("index.php", {"title": "Special:Version"})
        body = r.text
        if r.status_code != 200 or any(m in body for m in _BAD_MARKERS):
            problems.append(f"Special:Version answered HTTP {r.status_code}: {_excerpt(body)}")
        else:
            checks.append("Special:Version renders (HTTP 200)")
        r = get("index.php")
        if r.status_code != 200 or any(m in r.text for m in _BAD_MARKERS) or "<html" not in r.text:
            problems.append(f"the main page answered HTTP {r.status_code}: {_excerpt(r.text)}")
        else:
            checks.append("main page renders (HTTP 200)")
        r = get("api.php", {"action": "query", "meta": "siteinfo", "siprop": "general|extensions", "format": "json"})
        try:
            data = r.json()
            gen = data["query"]["general"]["generator"]
            version = gen.split(" ", 1)[1] if " " in gen else gen
            names = sorted(str(e.get("name")) for e in data["query"].get("extensions", []))
        except (ValueError, KeyError, TypeError):
            problems.append(f"API siteinfo did not answer JSON: {_excerpt(r.text)}")
        else:
            checks.append(f"API siteinfo: generator {gen}, {len(names)} extensions and skins")
            if version != expect_version:
                problems.append(f"API siteinfo reports MediaWiki {version}, expected {expect_version}")
            missing = sorted(set(expect_extensions) - set(names))
            if missing:
                problems.append(f"not loaded after the upgrade: {', '.join(missing)}")
        r = get("api.php", {"action": "parse", "text": "'''mwrelease''' [[Main Page]] {{SITENAME}}",
                            "contentmodel": "wikitext", "format": "json", "formatversion": "2"})
        try:
            html = r.json()["parse"]["text"]
            if "<b>mwrelease</b>" not in html:
                problems.append("a test page did not render as expected")
            else:
                checks.append("a test page renders through the parser")
        except (ValueError, KeyError, TypeError):
            problems.append(f"API parse failed: {_excerpt(r.text)}")
    except UpgradeError as exc:
        problems.append(exc.message)
    return Health(ok=not problems, version=version, extensions=names, problems=problems, checks=checks,
                  seconds=time.monotonic() - t0)


def cli_check(facts: dict[str, Any], *, expect_version: str, expect_extensions: list[str]) -> Health:
    """When the wiki has no reachable URL: what eval.php reported from the new tree."""
    things = facts.get("things") or {}
    names = sorted(things) if isinstance(things, dict) else []
    problems = []
    if facts.get("version") != expect_version:
        problems.append(f"the new tree reports MediaWiki {facts.get('version')}, expected {expect_version}")
    missing = sorted(set(expect_extensions) - set(names))
    if missing:
        problems.append(f"not loaded after the upgrade: {', '.join(missing)}")
    return Health(ok=not problems, version=str(facts.get("version")), extensions=names, problems=problems,
                  checks=["maintenance/eval.php loads the configuration"])


def check_health(wiki: Path, version: str, expected: list[str], *, url: str | None, skip_http: bool,
                 php: str) -> Health:
    """Over HTTP when there is a URL (the admin's, or $wgServer$wgScriptPath) and it is not skipped; else
    through PHP from the tree the wiki path serves."""
    if url and not skip_http:
        return http_check(url, expect_version=version, expect_extensions=expected)
    return cli_check(eval_settings(wiki.resolve(), php=php), expect_version=version, expect_extensions=expected)


def _excerpt(text: str, n: int = 300) -> str:
    t = " ".join(text.split())
    return t[:n] + ("…" if len(t) > n else "")
