"""Image recipes per MediaWiki line: pure data (Dockerfile text + context files + the base image it starts
from), keyed by a hash of that data and of the base image's id. ``runner.images`` builds them.

The base image source is a setting (``MWRELEASE_BASE_IMAGES`` or ``--base-source``):
``debootstrap`` (default) uses ``mwrelease/base:SUITE`` made by ``ci/prepare-machine.sh`` without a
registry; ``registry`` uses ``debian:SUITE`` (and ``php:X-cli`` for tarballs), pulled when missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mwrelease.errors import ConfigError, IntegrityError, SourceError
from mwrelease.runner.suites import LINE_SUITES, SUITE_PHP

RECIPE_FORMAT = "1"  # bump to rebuild every image after a change the recipe text does not show

BaseSource = Literal["debootstrap", "registry"]
BASE_SOURCES: tuple[BaseSource, ...] = ("debootstrap", "registry")
RecipeName = Literal["debian-package", "tarball", "db-mariadb", "db-postgres"]
DbKind = Literal["mariadb", "postgres"]

DB_SUITE = "bookworm"

DEBIAN_MW_PATH = "/usr/share/mediawiki"
TARBALL_MW_PATH = "/srv/mediawiki"

# Installed when the suite has them ("whatever exists"): PHP extensions MediaWiki and its bundled
# extensions use, database clients for dumps, and tools the tests call.
PHP_PACKAGES = ("php-cli", "php-sqlite3", "php-mysql", "php-pgsql", "php-intl", "php-mbstring", "php-xml",
                "php-curl", "php-gd", "php-apcu", "php-gmp", "php-zip", "php-readline", "php-luasandbox")
TOOL_PACKAGES = ("mariadb-client", "postgresql-client", "sqlite3", "git", "ca-certificates", "curl",
                 "lua5.1", "python3-pygments", "unzip", "xz-utils", "procps")


def base_source_setting(option: str | None = None) -> BaseSource:
    value = option or os.environ.get("MWRELEASE_BASE_IMAGES") or "debootstrap"
    if value not in BASE_SOURCES:
        raise ConfigError(f"Unknown base image source {value!r}.",
                          hint=f"Set MWRELEASE_BASE_IMAGES or --base-source to one of: {', '.join(BASE_SOURCES)}.")
    return value


def base_image_ref(suite: str, source: BaseSource) -> str:
    return f"mwrelease/base:{suite}" if source == "debootstrap" else f"debian:{suite}"


def suite_for_line(line: str) -> str:
    try:
        return LINE_SUITES[line]
    except KeyError:
        raise ConfigError(f"No Debian suite ships MediaWiki {line}.",
                          hint=f"Lines with a debian-package image: {', '.join(LINE_SUITES)}; "
                               "use the tarball recipe for others.") from None


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """Everything that decides an image's content, except the base image's id."""

    name: RecipeName
    repository: str           # mwrelease/core, mwrelease/db-mariadb, ...
    variant: str              # tag prefix: "1.43-debian", "bookworm"
    base: str                 # base image reference
    dockerfile: str
    context_files: Mapping[str, bytes] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    context_digests: Mapping[str, str] = field(default_factory=dict)  # for big files: name -> sha256

    def key(self, base_image_id: str) -> str:
        h = hashlib.sha256()
        for part in (RECIPE_FORMAT, self.name, self.repository, self.variant, self.base, base_image_id,
                     self.dockerfile):
            h.update(part.encode())
            h.update(b"\0")
        for name in sorted(set(self.context_files) | set(self.context_digests)):
            digest = self.context_digests.get(name) or hashlib.sha256(self.context_files[name]).hexdigest()
            h.update(f"{name}\0{digest}\0".encode())
        for k, v in sorted(self.labels.items()):
            h.update(f"{k}={v}\0".encode())
        return h.hexdigest()[:16]

    def tag(self, base_image_id: str) -> str:
        return f"{self.repository}:{self.variant}-{self.key(base_image_id)}"

    @property
    def alias(self) -> str:
        return f"{self.repository}:{self.variant}"


# --- recipe texts ------------------------------------------------------------------------------

# Probe run at build time: the image's facts as JSON (/etc/mwrelease/image.json). It reads the
# version from includes/Defines.php rather than loading MediaWiki (no LocalSettings.php yet).
PROBE_PHP = r"""<?php
$ip = $argv[1];
$facts = ['mediawiki_path' => $ip, 'php_version' => PHP_VERSION,
          'php_extensions' => array_map('strtolower', get_loaded_extensions())];
$defines = @file_get_contents("$ip/includes/Defines.php");
if ($defines !== false && preg_match("/define\(\s*'MW_VERSION',\s*'([^']+)'/", $defines, $m)) {
    $facts['mediawiki_version'] = $m[1];
}
foreach (['extensions' => 'extension.json', 'skins' => 'skin.json'] as $dir => $manifest) {
    $names = [];
    foreach (glob("$ip/$dir/*", GLOB_ONLYDIR) ?: [] as $d) {
        if (is_file("$d/$manifest") || is_file("$d/" . basename($d) . '.php')) {
            $names[] = basename($d);
        }
    }
    sort($names);
    $facts[$dir] = $names;
}
$facts['package_version'] = getenv('MW_PACKAGE_VERSION') ?: null;
sort($facts['php_extensions']);
echo json_encode($facts, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
"""

# Shell run in every Debian build: install what exists of a package list, never start daemons.
APT_INSTALL_SH = r"""#!/bin/sh
# usage: apt-install.sh REQUIRED... -- OPTIONAL...
set -eu
# No init system in a container: keep postinst scripts from starting apache2/mariadb during the build.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get update -q
req=""; opt=""; seen=0
for p in "$@"; do
    if [ "$p" = "--" ]; then seen=1; continue; fi
    if [ $seen = 0 ]; then req="$req $p"; else
        if apt-cache show "$p" >/dev/null 2>&1; then opt="$opt $p"; else echo "apt-install: $p not in this suite, skipped"; fi
    fi
done
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $req $opt
apt-get clean
rm -rf /var/lib/apt/lists/*
"""


def _common_context() -> dict[str, bytes]:
    return {"apt-install.sh": APT_INSTALL_SH.encode(), "probe.php": PROBE_PHP.encode()}


def debian_package_recipe(line: str, *, source: BaseSource = "debootstrap") -> Recipe:
    suite = suite_for_line(line)
    base = base_image_ref(suite, source)
    dockerfile = f"""\
# MediaWiki {line} from Debian {suite}'s mediawiki package (mwrelease recipe debian-package).
FROM {base}
COPY apt-install.sh probe.php /usr/local/share/mwrelease/
RUN sh /usr/local/share/mwrelease/apt-install.sh mediawiki {' '.join(PHP_PACKAGES[:1])} -- \\
        {' '.join(PHP_PACKAGES[1:])} \\
        {' '.join(TOOL_PACKAGES)}
RUN mkdir -p /etc/mwrelease /var/lib/mwtest \\
 && MW_PACKAGE_VERSION="$(dpkg-query -W -f='${{Version}}' mediawiki)" \\
    php /usr/local/share/mwrelease/probe.php {DEBIAN_MW_PATH} > /etc/mwrelease/image.json \\
 && cat /etc/mwrelease/image.json
WORKDIR {DEBIAN_MW_PATH}
"""
    return Recipe(name="debian-package", repository="mwrelease/core", variant=f"{line}-debian", base=base,
                  dockerfile=dockerfile, context_files=_common_context(),
                  labels={"mwrelease.kind": "core", "mwrelease.line": line, "mwrelease.recipe": "debian-package",
                          "mwrelease.suite": suite})


def db_recipe(kind: DbKind, *, source: BaseSource = "debootstrap") -> Recipe:
    base = base_image_ref(DB_SUITE, source)
    package = {"mariadb": "mariadb-server", "postgres": "postgresql"}[kind]
    # "postgresql" is a meta package (15+248): record the server package's version (15.18-0+deb12u1).
    version_of = {"mariadb": "mariadb-server",
                  "postgres": "postgresql-$(ls /usr/lib/postgresql | sort -V | tail -n1)"}[kind]
    dockerfile = f"""\
# Debian {DB_SUITE}'s {package} (mwrelease recipe db-{kind}); started by mwrelease.runner.mediawiki.start_database.
FROM {base}
COPY apt-install.sh /usr/local/share/mwrelease/
RUN sh /usr/local/share/mwrelease/apt-install.sh {package} -- procps
RUN mkdir -p /etc/mwrelease \\
 && printf '{{"db": "{kind}", "package_version": "%s"}}\\n' "$(dpkg-query -W -f='${{Version}}' {version_of})" \\
    > /etc/mwrelease/image.json && cat /etc/mwrelease/image.json
"""
    return Recipe(name=f"db-{kind}", repository=f"mwrelease/db-{kind}", variant=DB_SUITE,  # type: ignore[arg-type]
                  base=base, dockerfile=dockerfile, context_files={"apt-install.sh": APT_INSTALL_SH.encode()},
                  labels={"mwrelease.kind": "db", "mwrelease.db": kind, "mwrelease.suite": DB_SUITE})


@dataclass(frozen=True, kw_only=True)
class Tarball:
    """An official release tarball (``mediawiki-1.43.1.tar.gz``): where it is and what it must hash to."""

    url: str          # https://... or a local path / file:// URL
    sha256: str
    version: str      # 1.43.1

    @property
    def line(self) -> str:
        return ".".join(self.version.split(".")[:2])


def tarball_recipe(tarball: Tarball, *, source: BaseSource = "debootstrap", suite: str | None = None,
                   data: bytes | None = None) -> Recipe:
    """MediaWiki from a release tarball under /srv/mediawiki on a PHP base.

    ``registry``: ``php:X-cli`` (the official PHP image; extensions via docker-php-ext-install).
    ``debootstrap``: ``mwrelease/base:SUITE`` plus Debian's php packages. ``data`` is the tarball's
    content (``fetch_tarball``); the key uses its sha256 only.
    """
    suite = suite or LINE_SUITES.get(tarball.line, "trixie")
    if source == "registry":
        base = f"php:{SUITE_PHP[suite]}-cli"
        php_setup = """\
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
        libicu-dev libsqlite3-dev libpq-dev libzip-dev libpng-dev libgmp-dev \\
        sqlite3 mariadb-client postgresql-client git ca-certificates curl unzip xz-utils procps \\
 && docker-php-ext-install intl mysqli pdo_mysql pgsql pdo_pgsql gd gmp zip calendar \\
 && rm -rf /var/lib/apt/lists/*"""
    else:
        base = base_image_ref(suite, source)
        php_setup = f"""\
COPY apt-install.sh /usr/local/share/mwrelease/
RUN sh /usr/local/share/mwrelease/apt-install.sh php-cli -- {' '.join(PHP_PACKAGES[1:])} {' '.join(TOOL_PACKAGES)}"""
    dockerfile = f"""\
# MediaWiki {tarball.version} from a release tarball (mwrelease recipe tarball).
FROM {base}
{php_setup}
COPY mediawiki.tar.gz probe.php /usr/local/share/mwrelease/
RUN mkdir -p {TARBALL_MW_PATH} /etc/mwrelease /var/lib/mwtest \\
 && echo "{tarball.sha256}  /usr/local/share/mwrelease/mediawiki.tar.gz" | sha256sum -c - \\
 && tar -xzf /usr/local/share/mwrelease/mediawiki.tar.gz -C {TARBALL_MW_PATH} --strip-components=1 --no-same-owner \\
 && rm /usr/local/share/mwrelease/mediawiki.tar.gz \\
 && php /usr/local/share/mwrelease/probe.php {TARBALL_MW_PATH} > /etc/mwrelease/image.json \\
 && cat /etc/mwrelease/image.json
WORKDIR {TARBALL_MW_PATH}
"""
    context: dict[str, bytes] = {"probe.php": PROBE_PHP.encode(), "apt-install.sh": APT_INSTALL_SH.encode()}
    if data is not None:
        context["mediawiki.tar.gz"] = data
    return Recipe(name="tarball", repository="mwrelease/core", variant=f"{tarball.version}-tarball", base=base,
                  dockerfile=dockerfile, context_files=context,
                  context_digests={"mediawiki.tar.gz": tarball.sha256.lower()},
                  labels={"mwrelease.kind": "core", "mwrelease.line": tarball.line, "mwrelease.recipe": "tarball",
                          "mwrelease.tarball.url": tarball.url, "mwrelease.tarball.sha256": tarball.sha256.lower()})


def fetch_tarball(tarball: Tarball) -> bytes:
    """Read a local path/file:// URL or download over http(s); verify the sha256."""
    url = tarball.url
    try:
        if url.startswith(("http://", "https://")):
            import requests

            resp = requests.get(url, timeout=120)
            resp.raise_for_status()
            data = resp.content
        else:
            data = Path(url.removeprefix("file://")).read_bytes()
    except Exception as exc:
        raise SourceError(f"Cannot read the MediaWiki tarball {url}: {exc}") from exc
    got = hashlib.sha256(data).hexdigest()
    if got != tarball.sha256.lower():
        raise IntegrityError(f"The tarball {url} has sha256 {got}, expected {tarball.sha256}.",
                             hint="Check the release announcement for the right checksum.")
    return data
