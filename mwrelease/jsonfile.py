"""Reading the JSON files mwrelease writes (locks, results, manifests) with one kind of error message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, MwreleaseError


def read_json(path: Path, *, what: str, error: type[MwreleaseError] = ConfigError, hint: str | None = None) -> Any:
    """The parsed content of ``path``; ``error`` ("{what} {path} does not exist / is not valid JSON") otherwise."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist.", hint=hint) from None
    except (ValueError, RecursionError) as exc:  # also bad UTF-8, 5,000-digit numbers, 100,000-deep nesting
        raise error(f"{what} {path} is not valid JSON: {str(exc)[:300]}.", hint=hint) from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read: {exc.strerror}.", hint=hint) from None


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes that digests and signatures are taken over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
