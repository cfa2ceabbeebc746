"""Putting a locked component's tree in place inside a cell's wiki container."""

from __future__ import annotations

from pathlib import Path

from mwrelease.components import component_tree
from mwrelease.lock import LockedComponent
from mwrelease.runner.container import Container
from mwrelease.runner.plan import Cell


def place_component(container: Container, ip: str, comp: LockedComponent, cell: Cell, tmp: Path, *,
                    fresh: bool = False) -> str:
    """Make ``$IP/extensions/NAME`` (or ``skins/NAME``) hold the component at its locked ref.
    Returns a note for the log ("" when the image's bundled copy is used). ``fresh``: the place is an
    empty tmpfs of the sandbox (a mount point, which cannot be removed)."""
    sub = "skins" if comp.kind == "skin" else "extensions"
    dest = f"{ip}/{sub}/{comp.name}"
    if comp.source.type == "bundled" and cell.core_line == cell.lock.core_line:
        return ""
    src = component_tree(comp, tmp)
    if comp.source.type == "git":
        note = f"{comp.name} {comp.ref}@{(comp.commit or '')[:10]}"
    elif comp.source.type == "tarball":
        note = f"{comp.name} from {comp.source.url}"
    else:
        note = f"{comp.name} from {src}"
    # Debian's $IP/extensions/NAME is a symlink into extensions-core: remove the link, not its target.
    if not fresh:
        container.exec(["rm", "-rf", dest], timeout=60, quiet=True).check()
    container.put_tree(src, dest)
    return note
