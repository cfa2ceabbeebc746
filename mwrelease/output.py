"""Command results: printed as text, or as a versioned JSON envelope with ``--json``.

Envelope (format ``mwrelease/1``)::

    {"format": "mwrelease/1", "command": "resolve", "status": "ok" | "error",
     "data": {...} | null, "errors": [{"kind": "...", "message": "...", "details": [...]}],
     "exit_code": 0}
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

ENVELOPE_FORMAT = "mwrelease/1"


@dataclass(kw_only=True)
class Result:
    """What a command returns: data for ``--json`` and a text rendering for people."""

    data: Any
    text: str | Callable[[], str] = ""
    exit_code: int = 0
    warnings: list[str] = field(default_factory=list)

    def render_text(self) -> str:
        return self.text() if callable(self.text) else self.text


def envelope(command: str, *, data: Any = None, errors: list[dict[str, Any]] | None = None,
             exit_code: int = 0, warnings: list[str] | None = None) -> dict[str, Any]:
    return {
        "format": ENVELOPE_FORMAT,
        "command": command,
        "status": "ok" if exit_code == 0 else "error",
        "exit_code": exit_code,
        "data": data,
        "warnings": warnings or [],
        "errors": errors or [],
    }


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_default)


def _default(o: Any) -> Any:
    if hasattr(o, "to_json"):
        return o.to_json()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def echo_err(text: str) -> None:
    print(text, file=sys.stderr)
