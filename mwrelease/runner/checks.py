"""The checks of a cell, each a named ``CheckResult`` with a log excerpt that explains a failure.

They run against a wiki that ``cell.run_cell`` installed, extended and updated, served by
``php -S`` inside the container (reached with curl over the container's loopback):

- ``siteinfo:NAME``     the API's siteinfo (meta=siteinfo&siprop=extensions|skins) lists NAME with the
                        version its extension.json/skin.json declares (and the lock expects)
- ``special-version``   Special:Version renders (HTTP 200, the software table, no internal error)
- ``smoke:NAME:CHECK``  action=parse of the smoke wikitext contains the expected HTML fragment
- ``edit-readback``     a logged-in API edit, read back through the API, gives the same text
- ``load.php:startup``  ResourceLoader's startup module, then ``load.php:NAME`` every module the
                        component registers (ResourceModules), without an error state or exception comment
- ``php-errors``        the PHP error logs hold no fatal error or exception, and no warning from the bundle
- ``php-warnings:core`` (not required) warnings and notices that no bundle component's path explains
- ``php-deprecations``  (not required) PHP and MediaWiki deprecation notices, blamed where possible
"""

from __future__ import annotations

import json
import re
import shlex
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mwrelease.errors import EngineError
from mwrelease.lock import Lock, LockedComponent
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Container
from mwrelease.runner.logs import (CHANNEL_LOGS, ERROR_LOGS, PHP_ERROR_LOG, SERVER_PHP, Blamer, ComponentManifest,
                                   log_entries, php_error_checks, rl_problem, strip_html, timed)
from mwrelease.runner.results import CheckResult, CheckStatus, excerpt


@dataclass(kw_only=True)
class CheckContext:
    container: Container
    wiki: mw.Wiki
    lock: Lock
    manifests: dict[str, ComponentManifest] = field(default_factory=dict)
    timeout: float = 120
    names: frozenset[str] = frozenset()
    components: tuple[LockedComponent, ...] | None = None  # what the cell loads (default: the lock's)

    default_blame: str | None = None

    @property
    def blamer(self) -> Blamer:
        return Blamer(self.names, self.manifests, self.default_blame)

    def loaded(self) -> list[LockedComponent]:
        if self.components is not None:
            return list(self.components)
        return [c for c in self.lock.components if c.load]


# --- reading the container ------------------------------------------------------------------

# What is kept of an answer (load.php of a big bundle is several MiB): more than the 1 MiB kept of
# other commands' output, still bounded.
HTTP_MAX_BYTES = 64 << 20


def read_logs(container: Container, paths: Sequence[str] = ERROR_LOGS) -> dict[str, str]:
    script = "; ".join(f"echo '@@@ {p}'; cat {shlex.quote(p)} 2>/dev/null" for p in paths)
    r = container.exec(script, timeout=60, quiet=True)
    out: dict[str, str] = {}
    current: str | None = None
    for line in r.stdout.splitlines():
        if line.startswith("@@@ "):
            current = line[4:]
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return out


# --- the checks -----------------------------------------------------------------------------

Answers = Callable[[int], mw.HttpAnswer]  # the i-th answer of a ``fetch_all``


def siteinfo_request(ctx: CheckContext) -> list[str]:
    return mw.api_request({"action": "query", "meta": "siteinfo", "siprop": "general|extensions|skins"},
                          server=ctx.wiki.server)


def check_siteinfo(ctx: CheckContext, answer: Answers | None = None, at: int = 0) -> list[CheckResult]:
    """One check per loaded component, from a single siteinfo request (the ``at``-th of ``answer``)."""
    start = time.monotonic()
    answer = answer or fetch_all(ctx, [siteinfo_request(ctx)])
    try:
        a = answer(at)
        info = mw.api_answer(a)["query"]
    except EngineError as exc:
        log = exc.message + "\n" + "\n".join(exc.details)
        return [CheckResult(name=f"siteinfo:{c.name}", status="error" if "internal_api_error" not in log else "failed",
                            duration=time.monotonic() - start, message=f"siteinfo request failed: {exc.message}",
                            log=excerpt(log), component=c.name,
                            blame=(ctx.blamer.culprit(log) or c.name,)) for c in ctx.loaded()]
    elapsed = (time.monotonic() - start + a.seconds) / max(1, len(ctx.loaded()))
    exts = {str(e.get("name")): e for e in info.get("extensions", [])}
    skins = {str(s.get("code")): s for s in info.get("skins", [])}
    out = []
    for c in ctx.loaded():
        man = ctx.manifests.get(c.name)
        display = man.display_name if man else c.name

        def body(c: LockedComponent = c, man: ComponentManifest | None = man, display: str = display) -> tuple[CheckStatus, str, str]:
            entry = exts.get(display) or exts.get(c.name)
            if entry is None:
                listed = ", ".join(sorted(exts)) or "none"
                return "failed", f"siteinfo does not list {c.kind} {c.name} (as {display!r})", f"listed: {listed}"
            if c.kind == "skin" and c.name.lower() not in skins and not any(
                    str(s.get("name", "")).lower() == display.lower() for s in skins.values()):
                return "failed", f"skin {c.name} is credited but not registered as a skin", json.dumps(list(skins))
            got = entry.get("version")
            want = c.version or (man.version if man else None)
            if want and (got is None or not str(got).startswith(want)):
                return "failed", f"{c.name}: siteinfo says version {got!r}, the lock expects {want!r}", json.dumps(entry)
            return "passed", f"{display} {got or '(no version declared)'}", ""

        r = timed(f"siteinfo:{c.name}", body, component=c.name, blamer=ctx.blamer)
        out.append(CheckResult(**{**r.__dict__, "duration": elapsed}))
    return out


def special_version_request(ctx: CheckContext) -> list[str]:
    return [f"{ctx.wiki.server}/index.php?title=Special:Version"]


def check_special_version(ctx: CheckContext, answer: Answers | None = None, at: int = 0) -> CheckResult:
    answer = answer or fetch_all(ctx, [special_version_request(ctx)])

    def body() -> tuple[CheckStatus, str, str]:
        a = answer(at)
        code, html = a.status, a.body or a.error
        if code != 200:
            return "failed", f"Special:Version answered HTTP {code}", strip_html(html)
        if "sv-software" not in html:
            return "failed", "Special:Version has no software table (sv-software)", strip_html(html)
        missing = [c.name for c in ctx.loaded()
                   if (ctx.manifests[c.name].display_name if c.name in ctx.manifests else c.name) not in html]
        if missing:
            return "failed", f"Special:Version does not credit {', '.join(missing)}", strip_html(html)
        return "passed", f"{len(html)} bytes", ""
    r = timed("special-version", body, blamer=ctx.blamer)
    return replace(r, duration=r.duration + _seconds(answer, [at]))


def fetch_all(ctx: CheckContext, requests: Sequence[Sequence[str]]) -> Answers:
    """The answers of ``requests`` (curl arguments) from one exec; the engine's failure, if any, is raised
    by each lookup, so that every check that needed an answer reports it (as ``timed`` does)."""
    try:
        answers = mw.http_many(ctx.container, requests, timeout=ctx.timeout, max_bytes=HTTP_MAX_BYTES)
    except EngineError as exc:
        failure = exc

        def broken(i: int) -> mw.HttpAnswer:
            raise failure
        return broken
    return answers.__getitem__


def smoke_requests(ctx: CheckContext) -> list[list[str]]:
    return [mw.api_request({"action": "parse", "text": smoke.wikitext, "contentmodel": "wikitext",
                            "title": "Smoke test", "prop": "text", "disablelimitreport": True},
                           server=ctx.wiki.server, post=True) for c in ctx.loaded() for smoke in c.smoke]


def check_smoke(ctx: CheckContext, answer: Answers | None = None, at: int = 0) -> list[CheckResult]:
    """One action=parse per smoke check (from the ``at``-th answer on)."""
    todo = [(c, smoke) for c in ctx.loaded() for smoke in c.smoke]
    answer = answer or fetch_all(ctx, smoke_requests(ctx))
    out = []
    for i, (c, smoke) in enumerate(todo, start=at):
        def body(i: int = i, smoke: Any = smoke) -> tuple[CheckStatus, str, str]:
            a = answer(i)
            try:
                r = mw.api_answer(a)
            except EngineError as exc:
                return "failed", f"action=parse failed: {exc.message}", explain(ctx.container, exc.message)
            html = str(r.get("parse", {}).get("text", ""))
            if smoke.expect in html:
                return "passed", f"found {smoke.expect!r}", ""
            return ("failed", f"expected {smoke.expect!r} in the parsed HTML of {smoke.wikitext!r}",
                    f"wikitext: {smoke.wikitext}\nHTML:\n{html}")
        r = timed(f"smoke:{c.name}:{smoke.name}", body, component=c.name, blamer=ctx.blamer)
        out.append(replace(r, duration=r.duration + _seconds(answer, [i])))
    return out


def _seconds(answer: Answers, which: Sequence[int]) -> float:
    try:
        return sum(answer(i).seconds for i in which)
    except EngineError:
        return 0.0


def check_edit(ctx: CheckContext) -> CheckResult:
    def body() -> tuple[CheckStatus, str, str]:
        title = "Mwrelease edit check"
        text = f"Edited by the mwrelease edit check {uuid.uuid4().hex}.\n\n== Section ==\n[[Main Page]]"
        server, wiki = ctx.wiki.server, ctx.wiki
        # Five requests in three execs: each exec waits for the answer the next request needs (a token).
        tok = mw.api(ctx.container, {"action": "query", "meta": "tokens", "type": "login"}, server=server,
                     timeout=ctx.timeout)["query"]["tokens"]["logintoken"]
        login, csrf = mw.http_many(ctx.container, [
            mw.api_request({"action": "login", "lgname": wiki.admin_user, "lgpassword": wiki.admin_password,
                            "lgtoken": tok}, server=server, post=True),
            mw.api_request({"action": "query", "meta": "tokens"}, server=server)], timeout=ctx.timeout)
        if mw.api_answer(login).get("login", {}).get("result") != "Success":
            raise mw.ApiError(f"login as {wiki.admin_user} failed: {mw.api_answer(login).get('login')}")
        token = str(mw.api_answer(csrf)["query"]["tokens"]["csrftoken"])
        edit, readback = mw.http_many(ctx.container, [
            mw.api_request({"action": "edit", "title": title, "text": text, "summary": "mwrelease", "token": token},
                           server=server, post=True),
            mw.api_request({"action": "query", "prop": "revisions", "titles": title, "rvprop": "content",
                            "rvslots": "main"}, server=server)], timeout=ctx.timeout)
        r = mw.api_answer(edit)
        if r.get("edit", {}).get("result") != "Success":
            return "failed", f"the edit was refused: {json.dumps(r.get('edit'))}", json.dumps(r)
        back = mw.api_answer(readback)
        pages = back.get("query", {}).get("pages", [])
        got = pages[0]["revisions"][0]["slots"]["main"]["content"] if pages and "revisions" in pages[0] else None
        if got != text:
            return "failed", "the page read back differs from what was saved", f"saved:\n{text}\nread:\n{got}"
        return "passed", f"revision {r['edit'].get('newrevid')}", ""
    return timed("edit-readback", body, blamer=ctx.blamer)


def _load_url(ctx: CheckContext, modules: Sequence[str]) -> str:
    return f"{ctx.wiki.server}/load.php?" + urllib.parse.urlencode(
        {"modules": "|".join(modules), "skin": "vector", "lang": "en", "debug": "false"})


def _with_modules(ctx: CheckContext) -> list[tuple[LockedComponent, tuple[str, ...]]]:
    return [(c, ctx.manifests[c.name].modules) for c in ctx.loaded()
            if c.name in ctx.manifests and ctx.manifests[c.name].modules]


def load_php_requests(ctx: CheckContext, *, merged_chars: int = 6000) -> list[list[str]]:
    """The startup module, then the modules of all components together, as a browser asks for them,
    ``merged_chars`` of module names to a request."""
    merged: list[list[str]] = [[]]
    size = 0
    for _, mods in _with_modules(ctx):
        for m in mods:
            if merged[-1] and size + len(m) > merged_chars:
                merged.append([])
                size = 0
            merged[-1].append(m)
            size += len(m) + 1
    return ([[f"{ctx.wiki.server}/load.php?modules=startup&only=scripts&raw=1&skin=vector&lang=en"]]
            + [[_load_url(ctx, ms)] for ms in merged if ms])


def check_load_php(ctx: CheckContext, given: Answers | None = None, at: int = 0, *,
                   batch: int = 40) -> list[CheckResult]:
    """The answers of ``load_php_requests`` (from the ``at``-th on): when every one is clean, each
    component passes; otherwise each component's own requests (``batch`` modules each) tell whose
    modules fail. The requests of a pass go one after the other: php -S runs 4 workers, but the
    requests are CPU-bound (LESS, minification) and the cell has one CPU."""
    count = len(requests := load_php_requests(ctx))
    answer, at = (given, at) if given is not None else (fetch_all(ctx, requests), 0)
    components = _with_modules(ctx)

    def startup() -> tuple[CheckStatus, str, str]:
        a = answer(at)
        if a.status != 200:
            return "failed", f"load.php?modules=startup answered HTTP {a.status}", a.body or a.error
        problem = rl_problem(a.body)
        if problem:
            return "failed", "the startup module reports an error", problem
        return "passed", f"{len(a.body)} bytes", ""

    r = timed("load.php:startup", startup, blamer=ctx.blamer)
    out = [replace(r, duration=r.duration + _seconds(answer, [at]))]
    merged_at = list(range(at + 1, at + count))
    try:
        clean = bool(merged_at) and all(_load_problem(answer, i) is None for i in merged_at)
    except EngineError:
        clean = False
    # the merged requests' time, shared out by module count
    share = _seconds(answer, merged_at) / max(1, sum(len(mods) for _, mods in components))
    chunks_of = {c.name: [mods[i:i + batch] for i in range(0, len(mods), batch)] for c, mods in components}
    if not clean and components:
        answer = fetch_all(ctx, [[_load_url(ctx, chunk)] for c, _ in components for chunk in chunks_of[c.name]])
    asked = [chunk for c, _ in components for chunk in chunks_of[c.name]]
    i = 0
    for c, mods in components:
        which = [] if clean else list(range(i, i + len(chunks_of[c.name])))
        i += len(which)

        def body(c: LockedComponent = c, count: int = len(mods),
                 which: list[int] = which) -> tuple[CheckStatus, str, str]:
            bad = [p for p in (_load_problem(answer, i, asked[i]) for i in which) if p]
            if bad:
                return "failed", f"load.php reports errors for {c.name}'s modules", "\n---\n".join(bad)
            return "passed", f"{count} modules", ""
        r = timed(f"load.php:{c.name}", body, component=c.name, blamer=ctx.blamer)
        spent = share * len(mods) if clean else _seconds(answer, which)
        out.append(replace(r, duration=r.duration + spent))
    return out


def _load_problem(answer: Answers, i: int, modules: Sequence[str] = ()) -> str | None:
    """What is wrong with the ``i``-th answer of load.php (None: HTTP 200, no error state, no exception)."""
    a = answer(i)
    if a.status != 200:
        return f"HTTP {a.status} for {'|'.join(modules) or 'the modules'}:\n{(a.body or a.error)[:2000]}"
    return rl_problem(a.body)


def check_php_errors(ctx: CheckContext) -> list[CheckResult]:
    start = time.monotonic()
    try:
        entries = log_entries(read_logs(ctx.container))
    except EngineError as exc:
        return [CheckResult(name="php-errors", status="error", message=exc.message, duration=time.monotonic() - start)]
    return php_error_checks(entries, ctx.blamer, duration=time.monotonic() - start)


def explain(container: Container, message: str) -> str:
    """The log entry of the exception an error message names (``[0123abcd...]``), else the logs' tails."""
    m = re.search(r"\[([0-9a-f]{24})\]", message)
    if m:
        try:
            logs = read_logs(container, (CHANNEL_LOGS["exception"], CHANNEL_LOGS["fatal"], PHP_ERROR_LOG))
        except EngineError:
            logs = {}
        for e in log_entries(logs):
            if m.group(1) in e.text:
                return e.text
    return tail_logs(container)


def tail_logs(container: Container) -> str:
    try:
        logs = read_logs(container)
    except EngineError:
        return ""
    tails = []
    for p, t in logs.items():
        lines = [ln for ln in t.splitlines() if p != mw.SERVER_LOG or SERVER_PHP.search(ln)]
        if lines:
            tails.append(f"--- {p}\n" + "\n".join(lines[-20:]))
    return "\n".join(tails)


def run_checks(ctx: CheckContext, *, on_check: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    results: list[CheckResult] = []

    def add(rs: CheckResult | list[CheckResult]) -> None:
        for r in rs if isinstance(rs, list) else [rs]:
            results.append(r)
            if on_check:
                on_check(r)

    # The requests of every check but the edit in one exec (a round trip to the engine each).
    smoke = smoke_requests(ctx)
    answer = fetch_all(ctx, [siteinfo_request(ctx), special_version_request(ctx), *smoke, *load_php_requests(ctx)])
    add(check_siteinfo(ctx, answer, 0))
    add(check_special_version(ctx, answer, 1))
    add(check_smoke(ctx, answer, 2))
    add(check_load_php(ctx, answer, 2 + len(smoke)))
    add(check_edit(ctx))
    add(check_php_errors(ctx))  # last: it reads what every earlier request logged
    return results
