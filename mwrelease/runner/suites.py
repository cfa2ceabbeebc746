"""Which Debian suite ships which MediaWiki line, and the PHP of each suite: the one table that both the
image recipes (``runner.images``) and the pure planner (``runner.plan``) read. No engine code here, so
that planning stays free of it."""

from __future__ import annotations

# MediaWiki line -> the Debian suite whose ``mediawiki`` package is that line.
LINE_SUITES: dict[str, str] = {"1.35": "bullseye", "1.39": "bookworm", "1.43": "trixie"}
# The PHP each suite ships (for the registry's php:X-cli tarball bases).
SUITE_PHP: dict[str, str] = {"bullseye": "7.4", "bookworm": "8.2", "trixie": "8.4"}
# The PHP each core image runs (Debian's mediawiki package fixes one PHP per line).
LINE_PHP: dict[str, str] = {line: SUITE_PHP[suite] for line, suite in LINE_SUITES.items()}
# The lines `mwrelease images build` builds when no --line is given.
DEFAULT_LINES: tuple[str, ...] = ("1.39", "1.43")
