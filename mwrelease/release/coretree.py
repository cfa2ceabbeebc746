"""A core tree in MediaWiki's upstream (tarball) layout, from a directory or from a core image.

Debian's ``mediawiki`` package installs core at /usr/share/mediawiki, but several entries there are
symlinks: LocalSettings.php -> /etc/mediawiki, images -> /var/lib/mediawiki, and vendor libraries
that Debian unbundles -> /usr/share/php/... An upstream tarball has real files in those places, so
we copy the tree *following* symlinks (each link becomes the file or directory it points to) and leave
out the admin's parts (LocalSettings.php, images, cache) that Debian keeps in /etc and /var.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from mwrelease.errors import ConfigError, EngineError, IntegrityError

# Top-level entries that belong to an installation, not to a release.
ADMIN_ENTRIES = frozenset({"LocalSettings.php", "images", "cache", ".mwrelease"})
# Debian-only top-level entries: bundled extensions live in extensions-core (extensions/ is a link to an
# admin directory in /var/lib/mediawiki), and config/ links to /var/lib/mediawiki/config.
DEBIAN_ENTRIES = frozenset({"extensions-core", "config"})
DEBIAN_CORE_PATH = "/usr/share/mediawiki"

_MW_VERSION = re.compile(r"""define\(\s*['"]MW_VERSION['"]\s*,\s*['"]([0-9][^'"]*)['"]\s*\)""")
_WG_VERSION = re.compile(r"""\$wgVersion\s*=\s*['"]([0-9][^'"]*)['"]""")


def core_version_of(tree: Path) -> str:
    """The core version a tree declares (MW_VERSION in includes/Defines.php since 1.35, $wgVersion before)."""
    for rel, rx in (("includes/Defines.php", _MW_VERSION), ("includes/DefaultSettings.php", _WG_VERSION)):
        p = tree / rel
        if p.is_file():
            m = rx.search(p.read_text(errors="replace"))
            if m:
                return m.group(1)
    raise ConfigError(f"{tree} does not look like a MediaWiki core tree: no MW_VERSION in includes/Defines.php "
                      "and no $wgVersion in includes/DefaultSettings.php.",
                      hint="Point at the directory that holds index.php, includes/ and maintenance/.")


def php_requirement_of(tree: Path) -> str | None:
    """Core's PHP requirement from composer.json ("require": {"php": ...}) or PHPVersionCheck.php."""
    cj = tree / "composer.json"
    if cj.is_file():
        try:
            req = json.loads(cj.read_text()).get("require", {}).get("php")
            if isinstance(req, str):
                return req
        except json.JSONDecodeError:
            pass
    check = tree / "includes/PHPVersionCheck.php"
    if check.is_file():
        m = re.search(r"\$minimumVersion\s*=\s*'([0-9.]+)'", check.read_text(errors="replace"))
        if m:
            return f">= {m.group(1)}"
    return None


def materialize(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` following every symlink; dangling links are left out, admin entries too."""
    if not (src / "index.php").exists():
        raise ConfigError(f"{src} is not a MediaWiki core tree (no index.php).",
                          hint="Pass the directory that holds index.php, e.g. /usr/share/mediawiki.")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip: set[str] = set()
        if Path(directory) == src:
            skip |= (ADMIN_ENTRIES | DEBIAN_ENTRIES) & set(names)
        for n in names:
            p = os.path.join(directory, n)
            if os.path.islink(p) and not os.path.exists(p):
                skip.add(n)  # dangling (e.g. a link into /etc that only exists on a configured host)
            elif not os.path.islink(p):
                mode = os.lstat(p).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    skip.add(n)
        return skip

    shutil.copytree(src, dest, symlinks=False, ignore=ignore, dirs_exist_ok=True)
    core_exts = src / "extensions-core"
    if core_exts.is_dir():
        (dest / "extensions").mkdir(exist_ok=True)
        for ext in sorted(core_exts.iterdir()):
            if ext.is_dir() and not (dest / "extensions" / ext.name).exists():
                shutil.copytree(ext, dest / "extensions" / ext.name, symlinks=False, ignore=ignore)


def extract_from_image(image: str, dest: Path, *, path: str = DEBIAN_CORE_PATH) -> None:
    """Extract core from a core image (Debian's tree, symlinks resolved) into ``dest`` with the container layer."""
    try:
        from mwrelease.runner.engine import Engine
    except ImportError as exc:  # pragma: no cover - the runner is another part of the project
        raise EngineError(f"The container layer is not available ({exc}).",
                          hint="Pass --core-tree DIR with a core tree in the upstream layout instead.") from None
    engine = Engine.connect()
    excludes = " ".join(f"--exclude=./{e}" for e in sorted(ADMIN_ENTRIES | DEBIAN_ENTRIES))
    with engine.container(image, network_mode="none", keep=False) as c:
        # -h follows symlinks: Debian's links into /usr/share/php become real files, as upstream has them;
        # --hard-dereference: files reached twice (extensions/X -> extensions-core/X) are stored twice.
        res = c.exec(["sh", "-c", f"tar -C {path} -ch --hard-dereference -f /tmp/core.tar {excludes} . 2>/tmp/tar.err; "
                                   "echo $? >/tmp/tar.rc; cat /tmp/tar.err | tail -5"], timeout=600)
        data = c.get_file("/tmp/core.tar")
    raw = data if isinstance(data, bytes) else Path(str(data)).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        tar_path = Path(tmp, "core.tar")
        tar_path.write_bytes(raw)
        # -h resolved every link inside the container, so the archive holds only files and directories;
        # GNU tar refuses absolute and '..' member names on its own.
        stage = Path(tmp, "x")
        subprocess.run(["tar", "-C", str(stage.parent), "-xf", str(tar_path), "--one-top-level=x",
                        "--no-same-owner", "--no-same-permissions"], check=True, capture_output=True)
        if not (stage / "index.php").exists():
            raise IntegrityError(f"The tree extracted from {image}:{path} has no index.php ({res.output[-300:]}).",
                                 hint="Rebuild the core image.")
        materialize(stage, dest)


def copy_dir(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=False)


def tmpdir_near(path: Path, prefix: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=path))
