"""LocalSettings.php editing and staging: the read-only line, and carrying the admin's files into a new tree.

Read-only mode is a marked ``require`` line appended to LocalSettings.php, guarded by ``is_file()`` on its own
file, so deleting that file ends read-only mode at once; the line itself is removed at leisure.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from mwrelease.fsutil import replacing
from mwrelease.mwtree import ADMIN_ENTRIES
from mwrelease.upgrade.inspect import Installation

READONLY_FILE = "mwrelease-readonly.php"
READONLY_MARK = "# mwrelease:read-only"
DISABLED_MARK = "# mwrelease:disabled"


def readonly_on(tree: Path, reason: str) -> None:
    (tree / READONLY_FILE).write_text(f"<?php\n// Written by mwrelease upgrade; removed when it ends.\n"
                                      f"$wgReadOnly = {_php_str(reason)};\n")
    ls = tree / "LocalSettings.php"
    text = ls.read_text()
    if READONLY_MARK in text:
        return
    sep = "" if text.endswith("\n") else "\n"
    # Guarded by is_file(): deleting the file ends read-only mode at once, even where opcache never
    # revalidates LocalSettings.php; the line itself is then removed at leisure.
    path = f"__DIR__ . '/{READONLY_FILE}'"
    line = f"if ( is_file( {path} ) ) {{ require {path}; }} {READONLY_MARK}\n"
    if text.rstrip().endswith("?>"):
        line = f"<?php {line.rstrip()}\n?>\n"
    _replace_text(ls, text + sep + line)


def readonly_off(tree: Path) -> None:
    (tree / READONLY_FILE).unlink(missing_ok=True)  # writable from the next request on
    ls = tree / "LocalSettings.php"
    if ls.exists():
        text = ls.read_text()
        if READONLY_MARK in text:
            kept = [ln for ln in text.splitlines(keepends=True) if READONLY_MARK not in ln]
            # The "?>" we may have added after our line goes too.
            if text.rstrip().endswith(f"{READONLY_MARK}\n?>") and kept and kept[-1].strip() == "?>":
                kept.pop()
            _replace_text(ls, "".join(kept))


def _php_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _replace_text(path: Path, text: str) -> None:
    """Atomically, keeping the file's mode and owner (the web server must still read LocalSettings.php)."""
    st = path.stat()
    with replacing(path, mode=st.st_mode & 0o7777) as tmp:
        tmp.write_text(text)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:
            pass


def stage_admin_files(inst: Installation, new_tree: Path, *, disabled: list[str], upload_dir: Path) -> list[str]:
    """Carry over everything of the admin's that the release does not ship; never overwrite release files."""
    old = inst.tree
    copied: list[str] = []
    # LocalSettings.php without our read-only line, with incompatible extensions commented out.
    text = (old / "LocalSettings.php").read_text()
    text = "".join(ln for ln in text.splitlines(keepends=True) if READONLY_MARK not in ln)
    for name in disabled:
        text = re.sub(rf"^(\s*wfLoad(?:Extension|Skin)\s*\(\s*['\"]{re.escape(name)}['\"].*)$",
                      rf"# \1 {DISABLED_MARK} (incompatible with the new core)", text, flags=re.M)
    (new_tree / "LocalSettings.php").write_text(text)
    shutil.copystat(old / "LocalSettings.php", new_tree / "LocalSettings.php")
    _copy_owner(old / "LocalSettings.php", new_tree / "LocalSettings.php")
    copied.append("LocalSettings.php")
    old_release = inst.installed_manifest.file_map() if inst.installed_manifest else None
    for src in sorted(old.iterdir()):
        name = src.name
        if name in ("LocalSettings.php", READONLY_FILE, ".mwrelease") or (new_tree / name).exists() and name not in ("extensions", "skins"):
            continue
        if name in ("extensions", "skins"):
            for sub in sorted(p for p in src.iterdir() if p.is_dir() or p.is_symlink()):
                if not (new_tree / name / sub.name).exists():
                    _copy_any(sub, new_tree / name / sub.name, hardlink=False)
                    copied.append(f"{name}/{sub.name}")
            continue
        if name == "cache":
            # Caches are rebuilt; a stale localisation cache of the old version must not be carried over.
            (new_tree / name).mkdir(exist_ok=True)
            _copy_owner(src, new_tree / name)
            copied.append("cache/ (empty)")
            continue
        if old_release is not None and name in old_release and name not in ADMIN_ENTRIES:
            continue  # a core file of the old release that the new release dropped
        _copy_any(src, new_tree / name, hardlink=(src.resolve() == upload_dir.resolve()))
        copied.append(name + ("/" if src.is_dir() else ""))
    return copied


def _copy_any(src: Path, dest: Path, *, hardlink: bool) -> None:
    if src.is_symlink():
        dest.symlink_to(os.readlink(src))
        return
    if src.is_dir():
        def link_or_copy(s: str, d: str) -> object:
            # Uploaded files are never modified in place by MediaWiki (new versions get new names, old
            # ones move to archive/), so hard links are safe and make this step take seconds.
            if hardlink:
                try:
                    os.link(s, d)
                    return d
                except OSError:
                    pass
            return shutil.copy2(s, d)
        shutil.copytree(src, dest, symlinks=True, copy_function=link_or_copy)
        for dirpath, dirnames, filenames in os.walk(dest):
            rel = os.path.relpath(dirpath, dest)
            _copy_owner(src / rel, Path(dirpath))
            if not hardlink:
                for f in filenames:
                    _copy_owner(src / rel / f, Path(dirpath, f))
    else:
        shutil.copy2(src, dest)
        _copy_owner(src, dest)


def _copy_owner(src: Path, dest: Path) -> None:
    try:
        st = src.lstat()
        os.lchown(dest, st.st_uid, st.st_gid)
    except OSError:
        pass
