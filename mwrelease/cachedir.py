"""mwrelease's per-user cache: ``$XDG_CACHE_HOME/mwrelease/<name>`` (default ``~/.cache/mwrelease/<name>``)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(name: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mwrelease" / name
