"""The pure half of the checks: what the PHP and MediaWiki logs hold, and which component to blame.

No container here: ``runner.checks`` reads the logs and manifests inside the container and hands them
to these functions (unit-tested on text alone).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mwrelease.errors import EngineError
from mwrelease.runner.mediawiki import SERVER_LOG
from mwrelease.runner.results import CheckResult, CheckStatus, excerpt

LOG_DIR = "/var/log/mwtest"
PHP_ERROR_LOG = f"{LOG_DIR}/php-errors.log"
# MediaWiki's own log channels, written by $wgDebugLogGroups (see HARNESS_SETTINGS).
CHANNEL_LOGS = {"exception": f"{LOG_DIR}/exception.log", "error": f"{LOG_DIR}/error.log",
                "fatal": f"{LOG_DIR}/fatal.log", "deprecated": f"{LOG_DIR}/deprecated.log"}
ERROR_LOGS = (PHP_ERROR_LOG, SERVER_LOG, *CHANNEL_LOGS.values())

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
SERVER_PHP = re.compile(r"PHP (Fatal error|Parse error|Recoverable fatal error|Warning|Notice|Deprecated)")
_LOG_START = re.compile(r"^(\[|PHP |\d{4}-\d\d-\d\d|#\d|Stack trace|  thrown|Next |\w+Exception|Error:)")
# ResourceLoader reports a failed module as mw.loader.state({"name":"error"}) and an exception as a
# leading /* comment */ (ResourceLoader::formatExceptionNoComment and makeComment).
_RL_ERROR_STATE = re.compile(r'mw\.loader\.state\(\s*\{[^}]*"error"')
_RL_EXCEPTION = re.compile(r"^/\*[\s\S]{0,4000}?(Exception|Internal error|Error:|\[[0-9a-f]{24}\])[\s\S]*?\*/")


@dataclass(frozen=True, kw_only=True)
class ComponentManifest:
    """What a component's extension.json/skin.json says, read inside the container (the tree really in place).

    Not the release manifest (``release.manifest.Manifest``): this one describes one extension or skin."""

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


class Blamer:
    """Which bundle component a log entry points at: the proximate cause, not every frame it passes.

    In order: the error's own location (``in FILE on line``, ``from FILE(LINE)``); the innermost stack
    frame that is in a component's tree or calls a component's class (AutoloadNamespaces and
    AutoloadClasses of its extension.json); MediaWiki's ``[Called from Class::method]``; any path.
    """

    def __init__(self, names: Iterable[str], manifests: Mapping[str, ComponentManifest] | None = None,
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
        return hit if hit else (self.default if self.default and text.strip() else None)

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


def rl_problem(body: str) -> str | None:
    m = _RL_EXCEPTION.search(body.lstrip())
    if m:
        return m.group(0)[:2000]
    m2 = _RL_ERROR_STATE.search(body)
    if m2:
        return body[max(0, m2.start() - 200): m2.end() + 500]
    return None


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
            if path == SERVER_LOG and not SERVER_PHP.search(line):
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
            else:  # a warning, an error-channel entry, or anything else unexplained
                level = "warning"
            out.append(LogEntry(file=path, text=joined, level=level))
    return out


def php_error_checks(entries: Sequence[LogEntry], blamer: Blamer, *, duration: float = 0.0) -> list[CheckResult]:
    fatal = [e for e in entries if e.level == "fatal"]
    warn = [e for e in entries if e.level == "warning"]
    dep = [e for e in entries if e.level == "deprecated"]
    # Warnings need a precise culprit: core warns on its own too, even in a one-extension cell.
    bundle_warn = [e for e in warn if blamer.precise(e.text)]
    core_warn = [e for e in warn if not blamer.precise(e.text)]

    def render(es: Sequence[LogEntry]) -> str:
        return "\n".join(f"[{e.file}] {e.text}" for e in dedupe(es))

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
                               message=(f"{len(dedupe(dep))} distinct deprecation notice(s)"
                                        + (f" ({', '.join(dep_blame)})" if dep_blame else "")) if dep else "none",
                               log=excerpt(render(dep)), blame=tuple(dep_blame))
    return [main, core, deprecations]


def dedupe(es: Sequence[LogEntry]) -> list[LogEntry]:
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


def strip_html(html: str) -> str:
    text = re.sub(r"<script[\s\S]*?</script>|<style[\s\S]*?</style>", "", html)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+\n|\n\s+", "\n", re.sub(r"[ \t]+", " ", text)).strip()[:4000]
