"""A cell's LocalSettings.php: the harness block, then each loaded component's load line and settings;
and the skins install.php enabled that an isolated cell must not load."""

from __future__ import annotations

import re

from mwrelease.runner import mediawiki as mw
from mwrelease.runner.engine import Container
from mwrelease.runner.logs import HARNESS_SETTINGS
from mwrelease.runner.plan import Cell


def local_settings_text(cell: Cell) -> str:
    parts = [HARNESS_SETTINGS]
    for c in cell.loaded:
        parts.append(f"# {c.name} {c.ref or ''} ({c.source.type})\n{c.load_line}\n")
        if c.settings.strip():
            parts.append(c.settings.rstrip("\n") + "\n")
    return "\n".join(parts)


def disable_installer_skins(container: Container, wiki: mw.Wiki, cell: Cell) -> None:
    """install.php enables every skin it finds (a wfLoadSkin line each). Comment out those the lock
    has but this cell does not load (isolated cells), so that a broken skin cannot leak into them."""
    unwanted = {c.name for c in cell.lock.components if c.kind == "skin"} - {c.name for c in cell.loaded}
    if not unwanted:
        return
    text = container.get_file(wiki.local_settings).decode()
    lines = []
    for line in text.splitlines():
        m = re.match(r"\s*wfLoadSkin\(\s*'([^']+)'\s*\);", line)
        lines.append(f"# mwrelease (isolated cell): {line}" if m and m.group(1) in unwanted else line)
    directory, _, name = wiki.local_settings.rpartition("/")
    container.put_files(directory, {name: ("\n".join(lines) + "\n").encode()})
