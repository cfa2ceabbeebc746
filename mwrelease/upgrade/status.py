"""`mwrelease status`: the wiki's version and extensions, an interrupted upgrade, the last upgrades and
backups, and whether the channel has something newer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mwrelease.release.channel import ChannelClient
from mwrelease.trust.client import open_channel
from mwrelease.release.lines import version_key
from mwrelease.upgrade.inspect import inspect_wiki
from mwrelease.upgrade.journal import Journal, read_history
from mwrelease.upgrade.statedir import open_state


def status(wiki: Path, *, state_dir: Path | None, channel: str | None, php: str = "php", allow_unsigned: bool = False,
           warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    wiki = Path(os.path.abspath(wiki))
    state = open_state(wiki, state_dir, create=False)
    inst = inspect_wiki(wiki, php=php)
    j = Journal.load(state)
    history = [h.raw for h in read_history(state) if h.wiki == str(wiki)]
    backups = sorted(str(p) for p in (state / "backups").iterdir()) if (state / "backups").is_dir() else []
    out: dict[str, Any] = {"installation": inst.to_json(), "interrupted_upgrade": j.data if j else None,
                           "history": [{k: h.get(k) for k in ("id", "kind", "from", "to", "state", "started", "finished",
                                                              "read_only_seconds", "total_seconds", "error", "pruned")}
                                       for h in history[-10:]],
                           "backups": backups, "channel": None}
    if channel:
        reader = open_channel(channel, allow_unsigned=allow_unsigned, warn=warn)
        idx = reader.index()
        same = idx.newest(inst.core_line)
        newest = idx.newest()
        out["channel"] = {"location": channel, "signed": not isinstance(reader, ChannelClient),
                          "newest_on_line": same.version if same else None,
                          "newest": newest.version if newest else None,
                          "update_available": bool(same and same.version != inst.core_version and
                                                   _newer(same.version, inst.core_version)),
                          "newer_line_available": bool(newest and newest.line != inst.core_line and
                                                       _newer(newest.version, inst.core_version))}
    return out


def _newer(a: str, b: str) -> bool:
    return version_key(a) > version_key(b)
