"""Install a wiki in a container and serve it: the recipe the cell runner and the upgrade tests call.

Stable API (keep these names and keyword arguments; add, don't rename):

    image_facts(container) -> dict
        The image's own description (/etc/mwrelease/image.json): mediawiki_path, mediawiki_version,
        php_version, extensions, skins.
    start_database(db_container, kind, *, user=..., password=..., timeout=...) -> Database
        Start MariaDB ("mariadb") or PostgreSQL ("postgres") inside a database image's container and
        create a login that may create databases. A MediaWiki container joins it with
        ``engine.container(image, network_mode=db_container.peer_network_mode)`` and reaches it at
        127.0.0.1 (a shared loopback; both containers have no other network).
    install_wiki(container, *, db="sqlite", database=None, extensions=(), skins=None, ...) -> Wiki
        Run maintenance/install.php (SQLite under /var/lib/mwtest/data, or the given Database) and
        return where everything is. Takes about half a second with SQLite.
    append_local_settings(container, wiki, php_text)
        Add lines (wfLoadExtension, settings) to the wiki's LocalSettings.php.
    start_server(container, wiki=None, *, port=8080, timeout=..., prepend=None) -> str
        ``php -S 127.0.0.1:PORT`` with $IP as document root, in the background; returns the base URL
        once it answers. No web server: the host cannot reach a --network none container anyway.
    api(container, params, *, post=False, server=..., timeout=...) -> dict
        Call api.php with curl inside the container (over its loopback) and decode the JSON;
        raises ApiError when MediaWiki answers with an ``error``.
    run_maintenance(container, script, args=(), *, timeout, wiki=None, check=True) -> ExecResult
        ``php maintenance/SCRIPT.php ARGS`` in $IP ("update", "runJobs", "extensions/X/maintenance/y.php").
    save_wiki(container, wiki, local_dir) -> Path / restore_wiki(container, local_dir) -> Wiki
        Copy a SQLite wiki's state (LocalSettings.php, data directory, uploads) out of one container and
        into another, e.g. from a 1.39 image into a 1.43 image before ``run_maintenance(c, "update")``.
    login(container, wiki), csrf_token(container, wiki) -> str, siteinfo(container, wiki) -> dict
        Conveniences over ``api``.

Debian's layout (the ``mediawiki`` package), which the code below relies on:

- $IP is /usr/share/mediawiki, but the writable parts are symlinks into /var/lib/mediawiki:
  ``images``, ``extensions``, ``config`` and ``LocalSettings.php``. ``/var/lib/mediawiki/LocalSettings.php``
  is itself a symlink to ``/etc/mediawiki/LocalSettings.php`` (two hops); /etc/mediawiki is empty after
  installing the package, so install.php with the default --confpath ($IP) writes *through* the dangling
  chain and the file lands in /etc/mediawiki/LocalSettings.php.
- Bundled extensions live in /usr/share/mediawiki/extensions-core; ``extensions/NAME`` are symlinks to
  them (through /var/lib/mediawiki/extensions). An extension under test is copied into
  /var/lib/mediawiki/extensions/NAME (= $IP/extensions/NAME).
- /var/lib/mediawiki also mirrors $IP file by file with symlinks: it is the document root Apache would use.
- ``images`` and ``cache`` belong to www-data with mode 0700 (the harness has its own $wgCacheDirectory).
- install.php enables all skins but no extension unless --extensions/--with-extensions is given.

Release tarball images (recipe ``tarball``) have the upstream layout under /srv/mediawiki with
LocalSettings.php in $IP; the same functions work, since the path comes from ``image_facts``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mwrelease.errors import EngineError
from mwrelease.runner.engine import CommandFailed, Container, ExecResult

DbType = Literal["sqlite", "mysql", "postgres"]
DbKind = Literal["mariadb", "postgres"]

SQLITE_DIR = "/var/lib/mwtest/data"
DEFAULT_SERVER = "http://127.0.0.1:8080"
ADMIN_USER = "Admin"
ADMIN_PASSWORD = "a-long-Password123"
DB_USER = "wikiuser"
DB_PASSWORD = "wikiuser-Password-123"
SERVER_LOG = "/var/log/mwtest/php-server.log"
COOKIE_JAR = "/var/lib/mwtest/cookies.txt"


class ApiError(EngineError):
    """api.php answered with an error, or not with JSON."""


@dataclass(frozen=True, kw_only=True)
class Database:
    kind: DbKind
    host: str
    port: int
    user: str
    password: str
    version: str

    @property
    def dbtype(self) -> DbType:
        return "mysql" if self.kind == "mariadb" else "postgres"


@dataclass(frozen=True, kw_only=True)
class Wiki:
    path: str                 # $IP
    local_settings: str       # the real file (Debian: /etc/mediawiki/LocalSettings.php)
    server: str
    db: DbType
    db_name: str
    sqlite_dir: str | None
    admin_user: str
    admin_password: str
    mediawiki_version: str
    install_seconds: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def image_facts(container: Container) -> dict[str, Any]:
    try:
        facts: dict[str, Any] = json.loads(container.get_file("/etc/mwrelease/image.json"))
    except EngineError as exc:
        raise EngineError(f"{container.image} is not an mwrelease image (no /etc/mwrelease/image.json).",
                          hint="Build images with `mwrelease images build`.") from exc
    return facts


def start_database(db_container: Container, kind: DbKind, *, user: str = DB_USER, password: str = DB_PASSWORD,
                   timeout: float = 90) -> Database:
    """Start the server of a ``mwrelease/db-*`` container and create ``user`` (may create databases)."""
    if kind == "mariadb":
        db_container.exec("mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld", timeout=10).check()
        # --skip-name-resolve: no DNS in a --network none namespace; 127.0.0.1 only.
        # No flush per commit: a test database is thrown away with its container, and update.php's schema
        # changes and the installer's inserts wait on every fsync of the host's disk otherwise.
        db_container.start_background("exec mariadbd --user=mysql --bind-address=127.0.0.1 --skip-name-resolve "
                                      "--innodb-flush-log-at-trx-commit=0 --skip-innodb-doublewrite "
                                      ">/var/log/mwtest-mariadb.log 2>&1")
        _wait(db_container, "mariadb-admin --protocol=socket ping", timeout, "MariaDB", "/var/log/mwtest-mariadb.log")
        sql = (f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'; "
               f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION; FLUSH PRIVILEGES;")
        db_container.exec(["mariadb", "-e", sql], timeout=30).check()
        version = db_container.exec(["mariadb", "-N", "-e", "SELECT VERSION()"], timeout=30).check().stdout.strip()
        return Database(kind=kind, host="127.0.0.1", port=3306, user=user, password=password, version=version)
    if kind == "postgres":
        db_container.exec("mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql", timeout=10).check()
        # pg_ctlcluster switches to the postgres user itself; the package created the "main" cluster at build.
        # fsync off, as for MariaDB above: the cluster is thrown away with its container.
        db_container.exec('v=$(ls /etc/postgresql | sort -V | tail -n1) && pg_ctlcluster "$v" main start -- '
                          '-o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"',
                          timeout=timeout).check()
        _wait(db_container, "pg_isready -h 127.0.0.1 -q", timeout, "PostgreSQL", "/var/log/postgresql/*.log")
        sql = f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{password}';"
        db_container.exec(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql], timeout=30).check()
        version = db_container.exec(["runuser", "-u", "postgres", "--", "psql", "-tA", "-c", "SHOW server_version"],
                                    timeout=30).check().stdout.strip()
        return Database(kind=kind, host="127.0.0.1", port=5432, user=user, password=password, version=version)
    raise ValueError(f"unknown database kind {kind!r}")


def _wait(c: Container, probe: str, timeout: float, what: str, logfile: str, *, poll: float = 0.2) -> None:
    r = c.exec(f"for i in $(seq 1 {int(timeout / poll)}); do {probe} && exit 0; sleep {poll:g}; done; exit 1",
               timeout=timeout + 10, quiet=True)
    if not r.ok:
        tail = c.exec(f"tail -n 20 {logfile}", timeout=10, quiet=True).output
        raise EngineError(f"{what} did not start within {timeout:.0f} s in container {c.name}.",
                          details=tail.strip().splitlines())


def install_wiki(container: Container, *, db: DbType = "sqlite", database: Database | None = None,
                 db_name: str = "my_wiki", site_name: str = "Test Wiki", admin_user: str = ADMIN_USER,
                 admin_password: str = ADMIN_PASSWORD, server: str = DEFAULT_SERVER, lang: str = "en",
                 extensions: Sequence[str] = (), skins: Sequence[str] | None = None,
                 conf_path: str | None = None, extra_args: Sequence[str] = (), timeout: float = 600) -> Wiki:
    """Install MediaWiki with install.php. ``db`` is taken from ``database`` when one is given."""
    facts = image_facts(container)
    ip = str(facts["mediawiki_path"])
    if database is not None:
        db = database.dbtype
    args = ["php", f"{ip}/maintenance/install.php", "--dbtype", db, "--dbname", db_name,
            "--server", server, "--scriptpath", "", "--lang", lang, "--pass", admin_password]
    sqlite_dir: str | None = None
    if db == "sqlite":
        sqlite_dir = SQLITE_DIR
        args += ["--dbpath", sqlite_dir]
    else:
        if database is None:
            raise ValueError(f"install_wiki(db={db!r}) needs database=start_database(...)")
        args += ["--dbserver", database.host, "--dbport", str(database.port),
                 "--dbuser", database.user, "--dbpass", database.password,
                 "--installdbuser", database.user, "--installdbpass", database.password]
    if extensions:
        args += ["--extensions", ",".join(extensions)]
    if skins is not None:
        args += ["--skins", ",".join(skins)]
    if conf_path:
        args += ["--confpath", conf_path]
    args += [*extra_args, site_name, admin_user]
    container.exec(["mkdir", "-p", SQLITE_DIR, "/var/log/mwtest"], timeout=10, quiet=True).check()
    r = container.exec(args, timeout=timeout, workdir=ip)
    # install.php exits 0 on some failures (it prints the status); the success line is the real signal.
    if not r.ok or "MediaWiki has been successfully installed" not in r.output:
        raise CommandFailed(r) if not r.ok else EngineError(
            "install.php did not report success.", details=r.output.strip().splitlines()[-15:])
    settings = f"{conf_path or ip}/LocalSettings.php"
    real = container.exec(["readlink", "-f", settings], timeout=10, quiet=True).check().stdout.strip()
    return Wiki(path=ip, local_settings=real or settings, server=server, db=db, db_name=db_name,
                sqlite_dir=sqlite_dir, admin_user=admin_user, admin_password=admin_password,
                mediawiki_version=str(facts.get("mediawiki_version", "")), install_seconds=r.duration)


def append_local_settings(container: Container, wiki: Wiki, php_text: str) -> None:
    current = container.get_file(wiki.local_settings).decode()
    directory, _, name = wiki.local_settings.rpartition("/")
    container.put_files(directory, {name: (current.rstrip("\n") + "\n\n" + php_text.strip("\n") + "\n").encode()})


# A cell's PHP processes share compiled code: update.php fills opcache's file cache, php -S's first request
# reads it instead of compiling (1.3-1.7 s -> 0.35-0.4 s). Changed files are compiled again (timestamps), and
# compile-time warnings are replayed from the cache (record_warnings, PHP 8.1+; older PHP: none of this).
# PHP_ENV (":" first keeps PHP's own scan dir) reads the settings PREPARE_PHP writes (``php_ini``).
PHP_INI_DIR = "/var/lib/mwtest/php.d"
OPCACHE_DIR = "/var/lib/mwtest/opcache"
PHP_ENV = {"PHP_INI_SCAN_DIR": f":{PHP_INI_DIR}"}
PREPARE_PHP = (f'mkdir -p /var/lib/mwtest/cache /var/log/mwtest {PHP_INI_DIR} {OPCACHE_DIR} '
               f'&& printf "%s" "$2" >{PHP_INI_DIR}/mwrelease.ini')  # "$2": php_ini(...)


def php_ini(php_version: object) -> str:
    if tuple(int(x) for x in re.findall(r"\d+", str(php_version or ""))[:2]) < (8, 1):
        return ""
    return f"opcache.enable_cli=1\nopcache.file_cache={OPCACHE_DIR}\nopcache.record_warnings=1\n"


def start_server(container: Container, wiki: Wiki | None = None, *, port: int = 8080, timeout: float = 30,
                 workers: int = 4, prepend: str | None = None) -> str:
    """Serve $IP with php -S on 127.0.0.1:PORT (``prepend``: its auto_prepend_file); the URL once it answers."""
    ip = wiki.path if wiki else str(image_facts(container)["mediawiki_path"])
    ini = f"-d auto_prepend_file={shlex.quote(prepend)} " if prepend else ""
    # PHP_CLI_SERVER_WORKERS: the built-in server is single-threaded otherwise, and MediaWiki calls
    # itself (load.php, REST) while answering a request.
    container.start_background(f"mkdir -p /var/log/mwtest && exec php {ini}-S 127.0.0.1:{port} -t {shlex.quote(ip)} "
                               f">>{SERVER_LOG} 2>&1", workdir=ip, env={"PHP_CLI_SERVER_WORKERS": str(workers)})
    url = f"http://127.0.0.1:{port}"
    # The probe is the cheapest api.php request, polled fast: a bare api.php renders the API's help
    # page, which took 1-2 s of every cell. The probe's request is the server's first one, which
    # MediaWiki's own start-up makes slower than the later ones, whatever it asks.
    _wait(container, f"curl -s -o /dev/null '{url}/api.php?action=query&format=json'", timeout, "php -S",
          SERVER_LOG, poll=0.05)
    return url


def api(container: Container, params: Mapping[str, str | int | bool], *, post: bool = False,
        server: str = DEFAULT_SERVER, timeout: float = 60) -> dict[str, Any]:
    """Call api.php inside the container and return the decoded JSON (formatversion=2)."""
    query = api_query(params)
    body = urllib.parse.urlencode(query)
    cmd = ["curl", "-sS", "--max-time", f"{timeout:g}", "-b", COOKIE_JAR, "-c", COOKIE_JAR]
    cmd += ["--data", body, f"{server}/api.php"] if post else [f"{server}/api.php?{body}"]
    r = container.exec(cmd, timeout=timeout + 10, quiet=True)
    if not r.ok:
        raise ApiError(f"api.php request failed (curl exit {r.exit_code}): {r.stderr.strip()}",
                       details=[f"{k}={v}" for k, v in query.items()])
    return decode_api(r.stdout)


def api_query(params: Mapping[str, str | int | bool]) -> dict[str, str]:
    """``params`` as api.php's query (JSON, formatversion 2; action=query unless given)."""
    query: dict[str, str] = {"format": "json", "formatversion": "2"}
    for k, v in params.items():
        query[k] = ("1" if v else "") if isinstance(v, bool) else str(v)
    query.setdefault("action", "query")
    return query


def api_request(params: Mapping[str, str | int | bool], *, server: str = DEFAULT_SERVER,
                post: bool = False) -> list[str]:
    """curl's arguments for an api.php request with the cookie jar (for ``http_many``; ``api`` makes its own)."""
    body = urllib.parse.urlencode(api_query(params))
    jar = ["-b", COOKIE_JAR, "-c", COOKIE_JAR]
    return [*jar, "--data", body, f"{server}/api.php"] if post else [*jar, f"{server}/api.php?{body}"]


def api_answer(answer: HttpAnswer) -> dict[str, Any]:
    """An ``http_many`` answer of api.php as ``api`` returns it (ApiError when there is none, or an error)."""
    if not answer.status:
        raise ApiError(f"api.php request failed: {answer.error}")
    return decode_api(answer.body)


def decode_api(text: str) -> dict[str, Any]:
    """api.php's answer as JSON; ApiError when it is not JSON or holds an ``error``."""
    try:
        data: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        raise ApiError("api.php did not answer with JSON.", details=text.strip().splitlines()[:15]) from None
    if "error" in data:
        err = data["error"]
        raise ApiError(f"api.php error {err.get('code')}: {err.get('info')}")
    return data


@dataclass(frozen=True, kw_only=True)
class HttpAnswer:
    status: int     # 0: no answer (timeout, connection refused)
    body: str
    seconds: float  # curl's time_total
    error: str = ""  # curl's message when there was no answer


def http_many(container: Container, requests: Sequence[Sequence[str]], *, timeout: float,
              max_bytes: int = 64 << 20) -> list[HttpAnswer]:
    """Several HTTP requests inside the container, one after the other, in one exec (each exec is a
    round trip to the engine of about 0.1 s). Each request is curl's arguments (URL last, ``--data`` for
    a POST); each answer at most ``max_bytes``."""
    if not requests:
        return []
    marker = f"@@mwrelease-http-{uuid.uuid4().hex}@@"
    fmt = f"\\n{marker} %{{http_code}} %{{time_total}}\\n"  # curl writes \\n as a newline
    script = "; ".join(f"curl -sS --max-time {timeout:g} -w '{fmt}' {shlex.join(list(req))} 2>&1"
                       for req in requests)
    r = container.exec(script, timeout=(timeout + 5) * len(requests) + 15, quiet=True,
                       max_output=max_bytes * len(requests))
    parts = r.stdout.split(f"\n{marker} ")
    out: list[HttpAnswer] = []
    body = parts[0]
    for part in parts[1:]:
        head, _, rest = part.partition("\n")
        code, _, secs = head.partition(" ")
        status = int(code) if code.isdigit() else 0
        seconds = float(secs) if secs.replace(".", "", 1).isdigit() else 0.0
        out.append(HttpAnswer(status=status, body=body if status else "", seconds=seconds,
                              error="" if status else body.strip()))
        body = rest
    while len(out) < len(requests):  # killed or truncated: the rest got no answer
        out.append(HttpAnswer(status=0, body="", seconds=0.0, error=r.output.strip()[-2000:]))
    return out


def login(container: Container, wiki: Wiki) -> None:
    """Log in as the admin (cookies kept in the container) so that ``api(..., post=True)`` can edit."""
    token = api(container, {"action": "query", "meta": "tokens", "type": "login"}, server=wiki.server)
    tok = token["query"]["tokens"]["logintoken"]
    r = api(container, {"action": "login", "lgname": wiki.admin_user, "lgpassword": wiki.admin_password,
                        "lgtoken": tok}, post=True, server=wiki.server)
    if r.get("login", {}).get("result") != "Success":
        raise ApiError(f"login as {wiki.admin_user} failed: {r.get('login')}")


def csrf_token(container: Container, wiki: Wiki) -> str:
    r = api(container, {"action": "query", "meta": "tokens"}, server=wiki.server)
    return str(r["query"]["tokens"]["csrftoken"])


def run_maintenance(container: Container, script: str, args: Sequence[str] = (), *, timeout: float = 600,
                    wiki: Wiki | None = None, check: bool = True) -> ExecResult:
    """Run a maintenance script of core ("update", "runJobs.php") or a path relative to $IP."""
    ip = wiki.path if wiki else str(image_facts(container)["mediawiki_path"])
    path = script if "/" in script else f"maintenance/{script.removesuffix('.php')}.php"
    r = container.exec(["php", path, *args], timeout=timeout, workdir=ip)
    return r.check() if check else r


def siteinfo(container: Container, wiki: Wiki | None = None) -> dict[str, Any]:
    r = api(container, {"action": "query", "meta": "siteinfo", "siprop": "general|extensions|skins"},
            server=wiki.server if wiki else DEFAULT_SERVER)
    info: dict[str, Any] = r["query"]
    return info


def _real_path(container: Container, path: str) -> str:
    return container.exec(["readlink", "-f", path], timeout=10, quiet=True).check().stdout.strip() or path


def save_wiki(container: Container, wiki: Wiki, local_dir: str | Path) -> Path:
    """Copy a SQLite wiki's LocalSettings.php, data directory and uploads into ``local_dir``."""
    if wiki.db != "sqlite" or wiki.sqlite_dir is None:
        raise ValueError("save_wiki copies SQLite wikis only; dump MariaDB/PostgreSQL with their tools")
    dest = Path(local_dir)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "LocalSettings.php").write_bytes(container.get_file(wiki.local_settings))
    container.get_tree(wiki.sqlite_dir, dest / "data")
    container.get_tree(_real_path(container, f"{wiki.path}/images"), dest / "images")
    (dest / "wiki.json").write_text(json.dumps(wiki.to_json(), indent=2))
    return dest


def restore_wiki(container: Container, local_dir: str | Path) -> Wiki:
    """Put a wiki saved by ``save_wiki`` into this container's MediaWiki (maybe another version).

    Run ``run_maintenance(container, "update", ["--quick"])`` afterwards when the version changed.
    """
    src = Path(local_dir)
    saved = json.loads((src / "wiki.json").read_text())
    facts = image_facts(container)
    ip = str(facts["mediawiki_path"])
    # Debian: $IP/LocalSettings.php -> /var/lib/mediawiki/LocalSettings.php -> /etc/mediawiki/LocalSettings.php.
    settings = _real_path(container, f"{ip}/LocalSettings.php")
    directory, _, name = settings.rpartition("/")
    container.put_files(directory, {name: (src / "LocalSettings.php").read_bytes()})
    container.put_tree(src / "data", saved["sqlite_dir"])
    container.put_tree(src / "images", _real_path(container, f"{ip}/images"))
    fields = {f.name for f in dataclasses.fields(Wiki)}
    return Wiki(**{**{k: v for k, v in saved.items() if k in fields}, "path": ip, "local_settings": settings,
                   "mediawiki_version": str(facts.get("mediawiki_version", "")), "install_seconds": 0.0})
