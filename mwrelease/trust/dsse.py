"""DSSE envelopes (securesystemslib.dsse) over in-toto Statements: signed seals and approval notes.

The payload is the statement's canonical JSON (the bytes ``Seal.canonical()`` gives); the envelope is what
travels (``X.seal.dsse.json``) and what ``seal-verify`` / ``release propose --seal`` check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mwrelease.errors import ConfigError, IntegrityError
from mwrelease.jsonfile import canonical_json

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SEAL_PREDICATE = "https://mwrelease.dev/seal/v1"
APPROVAL_PREDICATE = "https://mwrelease.dev/approval/v1"


def sign_statement(statement: dict[str, Any], signer: Any) -> dict[str, Any]:
    """The DSSE envelope (as a JSON dict) of ``statement``, signed by ``signer``."""
    from securesystemslib.dsse import Envelope

    env = Envelope(payload=canonical_json(statement), payload_type=PAYLOAD_TYPE, signatures={})
    env.sign(signer)
    return dict(env.to_dict())


def write_envelope(path: Path, envelope: dict[str, Any]) -> None:
    path.write_text(json.dumps(envelope, indent=1) + "\n")


def envelope_path_for(statement_path: Path) -> Path:
    """X.seal.json -> X.seal.dsse.json (X.json -> X.dsse.json)."""
    name = statement_path.name
    return statement_path.with_name((name[:-5] if name.endswith(".json") else name) + ".dsse.json")


def load_envelope(path: Path) -> Any:
    from securesystemslib.dsse import Envelope

    try:
        data = json.loads(path.read_text())
        env = Envelope.from_dict(data)
    except FileNotFoundError:
        raise ConfigError(f"Envelope {path} does not exist.", hint="Check the path.") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"{path} is not a DSSE envelope ({type(exc).__name__}: {exc}).",
                             hint="Write it again with `mwrelease seal ... --sign KEY`.") from None
    if env.payload_type != PAYLOAD_TYPE:
        raise IntegrityError(f"{path} carries a {env.payload_type!r} payload, not an in-toto statement "
                             f"({PAYLOAD_TYPE}).", hint="Pass an envelope written by `mwrelease seal --sign`.")
    return env


def verify_envelope(path: Path, keys: list[Any], *, predicate_type: str | None = SEAL_PREDICATE) -> tuple[dict[str, Any], list[Any]]:
    """(statement, keys that signed it) when at least one of ``keys`` signed the envelope; IntegrityError otherwise."""
    from securesystemslib.exceptions import VerificationError

    env = load_envelope(path)
    try:
        signed = env.verify(keys, 1)
    except VerificationError:
        names = ", ".join(str(k.unrecognized_fields.get("x-mwrelease-name") or k.keyid[:12]) for k in keys)
        raise IntegrityError(f"{path} is not signed by {names}: no signature in it verifies with "
                             f"{'that key' if len(keys) == 1 else 'any of those keys'} (signed by someone else, or "
                             "the statement was changed after signing).",
                             hint="Check which key signed it (`mwrelease key show`), or seal and sign it again.") from None
    try:
        statement = json.loads(env.payload)
    except ValueError:
        raise IntegrityError(f"{path}: its payload is not JSON.") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE or (
            predicate_type and statement.get("predicateType") != predicate_type):
        raise IntegrityError(f"{path} is signed but is not a {predicate_type or 'in-toto'} statement.",
                             hint="Pass the seal envelope (X.seal.dsse.json).")
    return statement, list(signed.values())


def sign_seals(seals: Any, output: Path | None, signer: Any) -> list[str]:
    """Write one signed envelope per seal: beside -o's statement(s), or BUNDLE.seal.dsse.json in the cwd."""
    written = []
    for s in seals:
        if output is not None and not output.is_dir():
            target = envelope_path_for(output)
        else:
            target = (output or Path(".")) / f"{s.bundle}.seal.dsse.json"
        write_envelope(target, sign_statement(s.statement(), signer))
        written.append(str(target))
    return written


def artifact_subjects(statement: dict[str, Any]) -> dict[str, str]:
    """{file name: sha256} of the release artifacts a seal statement names (its subjects after the lock)."""
    out = {}
    for sub in (statement.get("subject") or [])[1:]:
        if isinstance(sub, dict) and isinstance(sub.get("digest"), dict) and sub["digest"].get("sha256"):
            out[str(sub.get("name"))] = str(sub["digest"]["sha256"])
    return out


def check_seal_names_artifact(statement: dict[str, Any], name: str, sha256: str, seal: str) -> None:
    """TrustError unless the seal statement names ``sha256`` (the artifact's digest) as a subject."""
    from mwrelease.errors import TrustError

    named = artifact_subjects(statement)
    if sha256 in named.values():
        return
    if not named:
        raise TrustError(f"The seal {seal} names only the lock, not the artifact {name}: nothing says the tested lock "
                         "is what this tarball was built from.",
                         hint="Seal again after `release build`: `mwrelease seal RESULTS --lock LOCK --sign KEY "
                              f"--artifact {name}`, and propose with that seal.")
    raise TrustError(f"The artifact {name} (sha256 {sha256[:12]}…) is not the one the seal {seal} was made for ("
                     + ", ".join(f"{n} sha256 {d[:12]}…" for n, d in sorted(named.items())) + "): it was rebuilt or "
                     "changed after sealing.", hint="Propose the artifact the seal names, or seal this one again.")
