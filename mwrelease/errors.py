"""One error hierarchy, one exit code per kind. Only ``cli.main`` turns these into an exit.

Messages are one paragraph: what happened, then what to do about it.
"""

from __future__ import annotations


class MwreleaseError(Exception):
    """Base of every error mwrelease reports to the user (never shown as a traceback)."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []
        # Structured problems (file, line, key, message) for --json, where CI annotates lines; optional.
        self.problems: list[dict[str, object]] = []

    def render(self) -> str:
        text = self.message
        if self.details:
            text += "\n" + "\n".join(f"  - {d}" for d in self.details)
        if self.hint:
            text += "\n" + self.hint
        return text


class ConfigError(MwreleaseError):
    """A bundle, lock, setting or option is malformed or contradicts itself."""

    exit_code = 3
    kind = "config"


class ConstraintError(ConfigError):
    """A version or constraint string cannot be parsed."""

    kind = "constraint"


class SourceError(MwreleaseError):
    """A catalog source, download or channel cannot be read (missing path, unreachable git or URL)."""

    exit_code = 4
    kind = "source"


class ResolutionError(MwreleaseError):
    """No set of refs satisfies the bundle's constraints."""

    exit_code = 5
    kind = "resolution"


class EngineError(MwreleaseError):
    """The container engine is missing, unreachable or failed."""

    exit_code = 6
    kind = "engine"


class ChecksFailed(MwreleaseError):
    """A test run finished and at least one required check failed."""

    exit_code = 7
    kind = "checks-failed"


class IntegrityError(MwreleaseError):
    """An artifact, signature or checksum does not verify, or an archive is unsafe to unpack."""

    exit_code = 8
    kind = "integrity"


class TrustError(IntegrityError):
    """A channel's signed (TUF) metadata refuses what was served: bad or too few signatures, expired, rolled back,
    mixed versions, a file longer or other than signed, malformed metadata, or a channel not trusted yet."""

    kind = "trust"


class UpgradeError(MwreleaseError):
    """An upgrade step failed; the wiki was restored to its previous state."""

    exit_code = 9
    kind = "upgrade"


class NothingToDo(MwreleaseError):
    """The request is valid but there is nothing to do (already on the newest release...)."""

    exit_code = 10
    kind = "nothing-to-do"


class UpgradeCancelled(MwreleaseError):
    """The admin answered no when asked to confirm an upgrade, rollback or prune; nothing was changed."""

    exit_code = 11
    kind = "cancelled"


class WikiLocked(MwreleaseError):
    """Another mwrelease upgrade, rollback or prune holds this wiki's lock; nothing was changed."""

    exit_code = 12
    kind = "locked"


class DiskFull(MwreleaseError):
    """The disk filled up while mwrelease wrote (unpacking a tarball, copying a component); what it had written
    was removed."""

    exit_code = 13
    kind = "disk-full"


class Interrupted(MwreleaseError):
    exit_code = 130
    kind = "interrupted"


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "internal error (a bug: please report it with the output)",
    2: "usage error (unknown option, missing argument)",
    ConfigError.exit_code: "configuration error: bundle, lock, constraint or option is invalid",
    SourceError.exit_code: "source error: a catalog source, download or channel cannot be read",
    ResolutionError.exit_code: "resolution conflict: no refs satisfy the bundle",
    EngineError.exit_code: "container engine error",
    ChecksFailed.exit_code: "tests ran and a required check failed",
    IntegrityError.exit_code: "integrity error: checksum, signature or unsafe archive",
    UpgradeError.exit_code: "upgrade failed and was rolled back; the wiki is on its old version",
    NothingToDo.exit_code: "nothing to do (upgrade and prune: only with --exit-code; they exit 0 otherwise)",
    UpgradeCancelled.exit_code: "cancelled at the confirmation prompt (upgrade, rollback, prune); nothing was changed",
    WikiLocked.exit_code: "another mwrelease run (upgrade, rollback, prune) holds this wiki's lock; nothing was changed",
    DiskFull.exit_code: "the disk filled up while writing; what was written was removed",
    Interrupted.exit_code: "interrupted (Ctrl-C)",
}
