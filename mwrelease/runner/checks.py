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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mwrelease.errors import EngineError
from mwrelease.lock import Lock, LockedComponent
from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Container
from mwrelease.runner.results import CheckResult, CheckStatus, excerpt

LOG_DIR = "/var/log/mwtest"
PHP_ERROR_LOG = f"{LOG_DIR}/php-errors.log"
# MediaWiki's own log channels, written by $wgDebugLogGroups (see HARNESS_SETTINGS).
CHANNEL_LOGS = {"exception": f"{LOG_DIR}/exception.log", "error": f"{LOG_DIR}/error.log",
                "fatal": f"{LOG_DIR}/fatal.log", "deprecated": f"{LOG_DIR}/deprecated.log"}
ERROR_LOGS = (PHP_ERROR_LOG, mw.SERVER_LOG, *CHANNEL_LOGS.values())

# Appended to LocalSettings.php before the bundle's lines.
HARNESS_SETTINGS = f"""\
# --- mwrelease test harness ---
# Our own cache directory: Debian's /var/lib/mediawiki/cache belongs to www-data (mode 0700), and the
# test container runs as root with every capability dropped, so root cannot enter it (no DAC_OVERRIDE).
$wgCacheDirectory = '/var/lib/mwtest/cache';
$wgShowExceptionDetails = true;
$wgDevelopmentWarnings = false;
error_reporting( E_ALL );
ini_set( 'display_errors', '0' );
ini_set( 'log_errors', '1' );
ini_set( 'error_log', '{PHP_ERROR_LOG}' );
""" + "".join(f"$wgDebugLogGroups['{ch}'] = '{path}';\n" for ch, path in CHANNEL_LOGS.items()) + """\
# --- end of harness; the bundle follows ---
"""

# What counts as a problem in a PHP or MediaWiki log line.
_FATAL = re.compile(r"PHP (Fatal error|Parse error|Recoverable fatal error)|Uncaught |\[exception\]|\[fatal\]"
                    r"|Maximum execution time|Allowed memory size", re.I)
_WARNING = re.compile(r"PHP (Warning|Notice)|\[error\]|E_WARNING|E_NOTICE|E_USER_WARNING|E_USER_NOTICE", re.I)
_DEPRECATED = re.compile(r"PHP Deprecated|\[deprecated\]|E_DEPRECATED|E_USER_DEPRECATED|deprecated", re.I)
_SERVER_PHP = re.compile(r"PHP (Fatal error|Parse error|Recoverable fatal error|Warning|Notice|Deprecated)")
_LOG_START = re.compile(r"^(\[|PHP |\d{4}-\d\d-\d\d|#\d|Stack trace|  thrown|Next |\w+Exception|Error:)")
# ResourceLoader reports a failed module as mw.loader.state({"name":"error"}) and an exception as a
# leading /* comment */ (ResourceLoader::formatExceptionNoComment and makeComment).
_RL_ERROR_STATE = re.compile(r'mw\.loader\.state\(\s*\{[^}]*"error"')
_RL_EXCEPTION = re.compile(r"^/\*[\s\S]{0,4000}?(Exception|Internal error|Error:|\[[0-9a-f]{24}\])[\s\S]*?\*/")


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What extension.json/skin.json says, read inside the container (the tree really in place)."""

    name: str
    kind: str
    present: bool
    display_name: str = ""
    version: str | None = None
    modules: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()   # AutoloadNamespaces prefixes ("MediaWiki\\Minerva\\")
    classes: tuple[str, ...] = ()      # AutoloadClasses names
    referenced: tuple[str, ...] = ()   # every "class" value in the manifest (module classes, handlers)
    error: str | None = None


@dataclass(kw_only=True)
class CheckContext:
    container: Container
    wiki: mw.Wiki
    lock: Lock
    manifests: dict[str, Manifest] = field(default_factory=dict)
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


class Blamer:
    """Which bundle component a log entry points at: the proximate cause, not every frame it passes.

    In order: the error's own location (``in FILE on line``, ``from FILE(LINE)``); the innermost stack
    frame that is in a component's tree or calls a component's class (AutoloadNamespaces and
    AutoloadClasses of its extension.json); MediaWiki's ``[Called from Class::method]``; any path.
    """

    def __init__(self, names: Iterable[str], manifests: Mapping[str, Manifest] | None = None,
                 default: str | None = None) -> None:
        self.names = frozenset(names)
        prefixes: list[tuple[str, str]] = []
        classes: dict[str, str] = {}
        referenced: dict[str, str] = {}
        modules: dict[str, str] = {}
        for m in (manifests or {}).values():
            prefixes += [(ns.strip("\\") + "\\", m.name) for ns in m.namespaces]
            classes.update({c.lstrip("\\"): m.name for c in m.classes})
            referenced.update({c: m.name for c in m.referenced})
            modules.update({mod: m.name for mod in m.modules})
        self.prefixes = sorted(prefixes, key=lambda p: -len(p[0]))
        self.classes = classes
        self.referenced = referenced
        self.modules = modules
        self.default = default  # an isolated cell with one component: whatever breaks is its doing

    def _path(self, text: str) -> str | None:
        m = re.search(r"/(?:extensions|extensions-core|skins)/([^/\s'\"():]+)/", text)
        return m.group(1) if m and m.group(1) in self.names else None

    def _class(self, symbol: str) -> str | None:
        cls = re.split(r"->|::", symbol.strip().lstrip("\\"), maxsplit=1)[0]
        if cls in self.classes:
            return self.classes[cls]
        for prefix, name in self.prefixes:
            if cls.startswith(prefix):
                return name
        return None

    def culprit(self, text: str) -> str | None:
        hit = self.precise(text)
        return hit if hit else (self.default if self.default and _looks_bad(text) else None)

    def precise(self, text: str) -> str | None:
        """The culprit the text itself names (no isolated-cell default)."""
        # A class the manifest names that no longer exists (a removed core alias such as
        # ResourceLoaderSkinModule): the error is raised in core, the mistake is the manifest's.
        for m in re.finditer(r'Class "\\?([^"]+)" not found', text.replace("&quot;", '"')):
            if m.group(1) in self.referenced:
                return self.referenced[m.group(1)]
        # A module's own file failing (LESS import, missing file): "… in ext.foo.styles.less"
        for m in re.finditer(r"(?:modules=|in |`)([A-Za-z][\w.-]*?)(?:\.less|\.js|\.css|&|\s|$)", text):
            if m.group(1) in self.modules:
                return self.modules[m.group(1)]
        for m in re.finditer(r"(?:\bin|\bfrom|thrown in) (/\S+?)(?:\(\d+\)| on line|:\d+)", text):
            hit = self._path(m.group(1))
            if hit:
                return hit
        for m in re.finditer(r"^#\d+ (.+?)(?:\(\d+\))?: ([^\s(]+)", text, re.M):
            hit = self._path(m.group(1)) or self._class(m.group(2))
            if hit:
                return hit
        for m in re.finditer(r"\[Called from ([^\]\s]+)\]", text):
            hit = self._class(m.group(1))
            if hit:
                return hit
        return self._path(text)

    def culprits(self, entries: Iterable[str]) -> list[str]:
        return sorted({c for c in (self.culprit(e) for e in entries) if c})


def _looks_bad(text: str) -> bool:
    return bool(text.strip())


def timed(name: str, fn: Callable[[], tuple[CheckStatus, str, str]], *, required: bool = True,
          component: str | None = None, blamer: Blamer | None = None) -> CheckResult:
    """Run one check body; an EngineError inside is the check's ``error``, not the run's end.

    A failure is blamed on the component its log points at, else on the check's own component."""
    start = time.monotonic()
    try:
        status, message, log = fn()
    except EngineError as exc:
        status, message, log = "error", exc.message, "\n".join(exc.details)
    duration = time.monotonic() - start
    blame: tuple[str, ...] = ()
    if status in ("failed", "error"):
        hit = blamer.culprit(log + "\n" + message) if blamer else None
        blame = (hit,) if hit else ((component,) if component else ())
    return CheckResult(name=name, status=status, duration=duration, message=message, log=excerpt(log),
                       required=required, component=component, blame=blame)


def blame_in(text: str, names: Iterable[str]) -> set[str]:
    """Bundle components whose tree a log names (``…/extensions/NAME/…``, ``extensions-core``, ``skins``)."""
    wanted = set(names)
    found = set(re.findall(r"/(?:extensions|extensions-core|skins)/([^/\s'\"():]+)/", text))
    return found & wanted


# --- reading the container ------------------------------------------------------------------

MANIFEST_PHP = r"""<?php
function mwr_classes($node) {
    $found = [];
    if (is_array($node)) {
        foreach ($node as $k => $v) {
            if ($k === 'class' && is_string($v)) { $found[] = ltrim($v, '\\'); }
            $found = array_merge($found, mwr_classes($v));
        }
    }
    return array_values(array_unique($found));
}
$ip = $argv[1]; $out = [];
for ($i = 2; $i + 1 < $argc; $i += 2) {
    [$name, $kind] = [$argv[$i], $argv[$i + 1]];
    $file = $kind === 'skin' ? "$ip/skins/$name/skin.json" : "$ip/extensions/$name/extension.json";
    if (!is_file($file)) { $out[$name] = ['present' => false]; continue; }
    $data = json_decode(file_get_contents($file), true);
    if (!is_array($data)) { $out[$name] = ['present' => true, 'error' => json_last_error_msg()]; continue; }
    $out[$name] = ['present' => true, 'name' => $data['name'] ?? $name, 'version' => $data['version'] ?? null,
                   'modules' => array_keys($data['ResourceModules'] ?? []),
                   'namespaces' => array_keys($data['AutoloadNamespaces'] ?? []),
                   'classes' => array_keys($data['AutoloadClasses'] ?? []),
                   'referenced' => mwr_classes($data)];
}
echo json_encode($out, JSON_UNESCAPED_SLASHES);
"""


def read_manifests(container: Container, wiki: mw.Wiki, comps: Sequence[LockedComponent]) -> dict[str, Manifest]:
    container.put_files("/usr/local/share/mwrelease", {"manifests.php": MANIFEST_PHP.encode()})
    args = ["php", "/usr/local/share/mwrelease/manifests.php", wiki.path]
    for c in comps:
        args += [c.name, c.kind]
    r = container.exec(args, timeout=60, quiet=True).check()
    data: dict[str, Any] = json.loads(r.stdout)
    out = {}
    for c in comps:
        d = data.get(c.name) or {}
        out[c.name] = Manifest(name=c.name, kind=c.kind, present=bool(d.get("present")),
                               display_name=str(d.get("name") or c.name),
                               version=None if d.get("version") is None else str(d["version"]),
                               modules=tuple(str(m) for m in d.get("modules") or ()),
                               namespaces=tuple(str(m) for m in d.get("namespaces") or ()),
                               classes=tuple(str(m) for m in d.get("classes") or ()),
                               referenced=tuple(str(m) for m in d.get("referenced") or ()), error=d.get("error"))
    return out


def http_get(container: Container, url: str, *, timeout: float) -> tuple[int, str]:
    """GET inside the container; (HTTP status, body). Status 0: no answer (timeout, connection refused)."""
    marker = "\n@@mwrelease-http-status@@"
    r = container.exec(["curl", "-sS", "--max-time", f"{timeout:g}", "-w", marker + "%{http_code}", url],
                       timeout=timeout + 15, quiet=True)
    body, _, code = r.stdout.rpartition(marker)
    if not _:
        return 0, r.output
    return int(code or 0), body


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

def check_siteinfo(ctx: CheckContext) -> list[CheckResult]:
    """One check per loaded component, from a single siteinfo request."""
    start = time.monotonic()
    try:
        info = mw.api(ctx.container, {"action": "query", "meta": "siteinfo", "siprop": "general|extensions|skins"},
                      server=ctx.wiki.server, timeout=ctx.timeout)["query"]
    except EngineError as exc:
        log = exc.message + "\n" + "\n".join(exc.details)
        return [CheckResult(name=f"siteinfo:{c.name}", status="error" if "internal_api_error" not in log else "failed",
                            duration=time.monotonic() - start, message=f"siteinfo request failed: {exc.message}",
                            log=excerpt(log), component=c.name,
                            blame=(ctx.blamer.culprit(log) or c.name,)) for c in ctx.loaded()]
    elapsed = (time.monotonic() - start) / max(1, len(ctx.loaded()))
    exts = {str(e.get("name")): e for e in info.get("extensions", [])}
    skins = {str(s.get("code")): s for s in info.get("skins", [])}
    out = []
    for c in ctx.loaded():
        man = ctx.manifests.get(c.name)
        display = man.display_name if man else c.name

        def body(c: LockedComponent = c, man: Manifest | None = man, display: str = display) -> tuple[CheckStatus, str, str]:
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


def check_special_version(ctx: CheckContext) -> CheckResult:
    def body() -> tuple[CheckStatus, str, str]:
        code, html = http_get(ctx.container, f"{ctx.wiki.server}/index.php?title=Special:Version", timeout=ctx.timeout)
        if code != 200:
            return "failed", f"Special:Version answered HTTP {code}", _strip_html(html)
        if "sv-software" not in html:
            return "failed", "Special:Version has no software table (sv-software)", _strip_html(html)
        missing = [c.name for c in ctx.loaded()
                   if (ctx.manifests[c.name].display_name if c.name in ctx.manifests else c.name) not in html]
        if missing:
            return "failed", f"Special:Version does not credit {', '.join(missing)}", _strip_html(html)
        return "passed", f"{len(html)} bytes", ""
    return timed("special-version", body, blamer=ctx.blamer)


def check_smoke(ctx: CheckContext) -> list[CheckResult]:
    out = []
    for c in ctx.loaded():
        for smoke in c.smoke:
            def body(smoke: Any = smoke) -> tuple[CheckStatus, str, str]:
                try:
                    r = mw.api(ctx.container, {"action": "parse", "text": smoke.wikitext, "contentmodel": "wikitext",
                                               "title": "Smoke test", "prop": "text", "disablelimitreport": True},
                               post=True, server=ctx.wiki.server, timeout=ctx.timeout)
                except EngineError as exc:
                    return "failed", f"action=parse failed: {exc.message}", explain(ctx.container, exc.message)
                html = str(r.get("parse", {}).get("text", ""))
                if smoke.expect in html:
                    return "passed", f"found {smoke.expect!r}", ""
                return ("failed", f"expected {smoke.expect!r} in the parsed HTML of {smoke.wikitext!r}",
                        f"wikitext: {smoke.wikitext}\nHTML:\n{html}")
            out.append(timed(f"smoke:{c.name}:{smoke.name}", body, component=c.name, blamer=ctx.blamer))
    return out


def check_edit(ctx: CheckContext) -> CheckResult:
    def body() -> tuple[CheckStatus, str, str]:
        title = "Mwrelease edit check"
        text = f"Edited by the mwrelease edit check {uuid.uuid4().hex}.\n\n== Section ==\n[[Main Page]]"
        mw.login(ctx.container, ctx.wiki)
        token = mw.csrf_token(ctx.container, ctx.wiki)
        r = mw.api(ctx.container, {"action": "edit", "title": title, "text": text, "summary": "mwrelease",
                                   "token": token}, post=True, server=ctx.wiki.server, timeout=ctx.timeout)
        if r.get("edit", {}).get("result") != "Success":
            return "failed", f"the edit was refused: {json.dumps(r.get('edit'))}", json.dumps(r)
        back = mw.api(ctx.container, {"action": "query", "prop": "revisions", "titles": title, "rvprop": "content",
                                      "rvslots": "main"}, server=ctx.wiki.server, timeout=ctx.timeout)
        pages = back.get("query", {}).get("pages", [])
        got = pages[0]["revisions"][0]["slots"]["main"]["content"] if pages and "revisions" in pages[0] else None
        if got != text:
            return "failed", "the page read back differs from what was saved", f"saved:\n{text}\nread:\n{got}"
        return "passed", f"revision {r['edit'].get('newrevid')}", ""
    return timed("edit-readback", body, blamer=ctx.blamer)


def rl_problem(body: str) -> str | None:
    m = _RL_EXCEPTION.search(body.lstrip())
    if m:
        return m.group(0)[:2000]
    m2 = _RL_ERROR_STATE.search(body)
    if m2:
        return body[max(0, m2.start() - 200): m2.end() + 500]
    return None


def check_load_php(ctx: CheckContext, *, batch: int = 40, parallel: int = 1) -> list[CheckResult]:
    base = f"{ctx.wiki.server}/load.php"

    def startup() -> tuple[CheckStatus, str, str]:
        code, body = http_get(ctx.container, f"{base}?modules=startup&only=scripts&raw=1&skin=vector&lang=en",
                              timeout=ctx.timeout)
        if code != 200:
            return "failed", f"load.php?modules=startup answered HTTP {code}", body
        problem = rl_problem(body)
        if problem:
            return "failed", "the startup module reports an error", problem
        return "passed", f"{len(body)} bytes", ""

    out = [timed("load.php:startup", startup, blamer=ctx.blamer)]
    jobs = []
    for c in ctx.loaded():
        mods = ctx.manifests[c.name].modules if c.name in ctx.manifests else ()
        if not mods:
            continue

        def body(c: LockedComponent = c, mods: tuple[str, ...] = mods) -> tuple[CheckStatus, str, str]:
            bad: list[str] = []
            for i in range(0, len(mods), batch):
                chunk = mods[i:i + batch]
                q = urllib.parse.urlencode({"modules": "|".join(chunk), "skin": "vector", "lang": "en",
                                            "debug": "false"})
                code, text = http_get(ctx.container, f"{base}?{q}", timeout=ctx.timeout)
                if code != 200:
                    bad.append(f"HTTP {code} for {'|'.join(chunk)}:\n{text[:2000]}")
                    continue
                problem = rl_problem(text)
                if problem:
                    bad.append(problem)
            if bad:
                return "failed", f"load.php reports errors for {c.name}'s modules", "\n---\n".join(bad)
            return "passed", f"{len(mods)} modules", ""
        jobs.append((f"load.php:{c.name}", body, c.name))
    # php -S runs 4 workers, but the requests are CPU-bound (LESS, minification): on a 2-core runner
    # parallel=4 was slower (13.2 s vs 10.9 s of checks) than one at a time. Results keep bundle order.
    from concurrent.futures import ThreadPoolExecutor

    blamer = ctx.blamer
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        out += list(pool.map(lambda j: timed(j[0], j[1], component=j[2], blamer=blamer), jobs))
    return out


@dataclass(frozen=True, kw_only=True)
class LogEntry:
    file: str
    text: str
    level: str  # fatal | warning | deprecated


def log_entries(logs: dict[str, str]) -> list[LogEntry]:
    """Group log lines into entries (a message and its stack trace) and classify them."""
    out: list[LogEntry] = []
    for path, text in logs.items():
        entries: list[list[str]] = []
        for line in text.splitlines():
            if path == mw.SERVER_LOG and not _SERVER_PHP.search(line):
                continue  # php -S access lines ("Accepted", "[200]: GET ...", "Development Server started")
            if not line.strip():
                continue
            if entries and not _LOG_START.match(line) or entries and line.startswith(("#", "Stack trace", "  thrown", "Next ")):
                entries[-1].append(line)
            else:
                entries.append([line])
        for e in entries:
            joined = "\n".join(e)
            if path == CHANNEL_LOGS["deprecated"] or (_DEPRECATED.search(e[0]) and not _FATAL.search(e[0])
                                                        and not _WARNING.search(e[0])):
                level = "deprecated"
            elif path in (CHANNEL_LOGS["exception"], CHANNEL_LOGS["fatal"]) or _FATAL.search(e[0]):
                level = "fatal"
            elif _WARNING.search(joined) or path == CHANNEL_LOGS["error"]:
                level = "warning"
            else:
                level = "warning"
            out.append(LogEntry(file=path, text=joined, level=level))
    return out


def check_php_errors(ctx: CheckContext) -> list[CheckResult]:
    start = time.monotonic()
    try:
        entries = log_entries(read_logs(ctx.container))
    except EngineError as exc:
        return [CheckResult(name="php-errors", status="error", message=exc.message, duration=time.monotonic() - start)]
    return php_error_checks(entries, ctx.blamer, duration=time.monotonic() - start)


def php_error_checks(entries: Sequence[LogEntry], blamer: Blamer, *, duration: float = 0.0) -> list[CheckResult]:
    fatal = [e for e in entries if e.level == "fatal"]
    warn = [e for e in entries if e.level == "warning"]
    dep = [e for e in entries if e.level == "deprecated"]
    # Warnings need a precise culprit: core warns on its own too, even in a one-extension cell.
    bundle_warn = [e for e in warn if blamer.precise(e.text)]
    core_warn = [e for e in warn if not blamer.precise(e.text)]

    def render(es: Sequence[LogEntry]) -> str:
        return "\n".join(f"[{e.file}] {e.text}" for e in _dedupe(es))

    bad = fatal + bundle_warn
    blame = sorted(set(blamer.culprits(e.text for e in fatal)) | set(blamer.culprits(e.text for e in bundle_warn)))
    if bad:
        kinds = []
        if fatal:
            kinds.append(f"{len(fatal)} fatal error(s)/exception(s)")
        if bundle_warn:
            kinds.append(f"{len(bundle_warn)} warning(s) from the bundle")
        where = f" ({', '.join(blame)})" if blame else ""
        main = CheckResult(name="php-errors", status="failed", duration=duration,
                           message=f"The PHP logs hold {' and '.join(kinds)}{where}", log=excerpt(render(bad)),
                           blame=tuple(blame))
    else:
        main = CheckResult(name="php-errors", status="passed", duration=duration, message="no fatal error, exception "
                           "or bundle warning in the PHP logs")
    core = CheckResult(name="php-warnings:core", required=False,
                       status="failed" if core_warn else "passed",
                       message=f"{len(core_warn)} warning(s) not from a bundle component" if core_warn else "none",
                       log=excerpt(render(core_warn)))
    dep_blame = sorted({c for c in (blamer.precise(e.text) for e in dep) if c})
    deprecations = CheckResult(name="php-deprecations", required=False, status="failed" if dep else "passed",
                               message=(f"{len(_dedupe(dep))} distinct deprecation notice(s)"
                                        + (f" ({', '.join(dep_blame)})" if dep_blame else "")) if dep else "none",
                               log=excerpt(render(dep)), blame=tuple(dep_blame))
    return [main, core, deprecations]


def _dedupe(es: Sequence[LogEntry]) -> list[LogEntry]:
    seen: set[str] = set()
    out = []
    for e in es:
        first = e.text.splitlines()[0]
        # The message itself, without timestamp, host, request id and URL (MediaWiki's log prefix).
        m = re.search(r"(PHP (Deprecated|Warning|Notice|Fatal error|Parse error)|[\\\w]*(Error|Exception)\b).*", first)
        key = m.group(0) if m else re.sub(r"^\[[^\]]*\]\s*", "", first)
        key = re.sub(r"\s+", " ", re.sub(r"\[[0-9a-f]{24}\]", "", key))
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


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
    return _tail_logs(container)


def _tail_logs(container: Container) -> str:
    try:
        logs = read_logs(container)
    except EngineError:
        return ""
    tails = []
    for p, t in logs.items():
        lines = [ln for ln in t.splitlines() if p != mw.SERVER_LOG or _SERVER_PHP.search(ln)]
        if lines:
            tails.append(f"--- {p}\n" + "\n".join(lines[-20:]))
    return "\n".join(tails)


def _strip_html(html: str) -> str:
    text = re.sub(r"<script[\s\S]*?</script>|<style[\s\S]*?</style>", "", html)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+\n|\n\s+", "\n", re.sub(r"[ \t]+", " ", text)).strip()[:4000]


def run_checks(ctx: CheckContext, *, on_check: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    results: list[CheckResult] = []

    def add(rs: CheckResult | list[CheckResult]) -> None:
        for r in rs if isinstance(rs, list) else [rs]:
            results.append(r)
            if on_check:
                on_check(r)

    add(check_siteinfo(ctx))
    add(check_special_version(ctx))
    add(check_smoke(ctx))
    add(check_edit(ctx))
    add(check_load_php(ctx))
    add(check_php_errors(ctx))  # last: it reads what every earlier request logged
    return results
