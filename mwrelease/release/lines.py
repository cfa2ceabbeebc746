"""Release lines and the upgrade paths between them.

MediaWiki supports an upgrade from at most two LTS releases back, counting the target's own LTS: a
1.43 tree upgrades a 1.39 (or newer) wiki, and a 1.35 wiki must stop at 1.39 first. A non-LTS line
(1.42) upgrades from the LTS before the last one (1.35), as its release notes say.
"""

from __future__ import annotations

from mwrelease.errors import ConfigError
from mwrelease.versions import Version, core_line, parse_version

LTS_LINES = ("1.19", "1.23", "1.27", "1.31", "1.35", "1.39", "1.43")


def line_key(line: str) -> tuple[int, int]:
    try:
        major, minor = line.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        raise ConfigError(f"{line!r} is not a MediaWiki release line such as 1.43.") from None


def line_of(version: str) -> str:
    return core_line(version)


def version_key(version: str) -> Version:
    """Order of MediaWiki versions (1.43.0-rc.1 < 1.43.0 < 1.43.5), as composer and MediaWiki order them."""
    return parse_version(version)


def is_lts(line: str) -> bool:
    return line in LTS_LINES


def channel_name(line: str) -> str:
    return f"{line}-lts" if is_lts(line) else line


def min_upgrade_line(line: str) -> str:
    """The oldest line a release of ``line`` can upgrade from directly."""
    older = [x for x in LTS_LINES if line_key(x) < line_key(line)]
    if not older:
        return line
    if is_lts(line) or len(older) < 2:
        return older[-1]
    return older[-2]


def upgrades_from(line: str) -> list[str]:
    """Every line from min_upgrade_line(line) up to ``line`` itself, oldest first."""
    lo, hi = line_key(min_upgrade_line(line)), line_key(line)
    return [f"{lo[0]}.{m}" for m in range(lo[1], hi[1] + 1)] if lo[0] == hi[0] else [line]


def can_upgrade_directly(from_version: str, to_lines: list[str] | tuple[str, ...]) -> bool:
    return line_of(from_version) in to_lines
