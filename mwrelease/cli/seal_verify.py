"""`mwrelease seal-verify ENVELOPE --key PUB`: check a signed seal."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.output import Result


@click.command("seal-verify")
@click.argument("envelope", type=click.Path(path_type=Path))
@click.option("--key", "keys", required=True, multiple=True, type=click.Path(path_type=Path), metavar="PUB",
              help="Public key(s) one of which must have signed it (repeatable).")
@click.option("--lock", "lock_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also check that the seal is about this lock (its canonical sha256).")
@json_option
@reporting("seal-verify")
def seal_verify(envelope: Path, keys: tuple[Path, ...], lock_path: Path | None) -> Result:
    """Verify ENVELOPE (X.seal.dsse.json from `mwrelease seal --sign`) and print the seal it carries.

    \b
    Exit codes: 0 the signature verifies, 3 bad key file, 8 no signature verifies, not a seal, another lock.
    """
    from mwrelease.cli.key import load_publics
    from mwrelease.errors import IntegrityError
    from mwrelease.trust.dsse import verify_envelope
    from mwrelease.trust.keys import key_name

    statement, signed = verify_envelope(envelope, load_publics(keys))
    subject = (statement.get("subject") or [{}])[0].get("digest", {}).get("sha256", "")
    if lock_path is not None:
        from mwrelease.lock import Lock
        from mwrelease.runner.plan import lock_digest

        if lock_digest(Lock.load(lock_path)) != subject:
            raise IntegrityError(f"{envelope} is a seal of another lock (sha256 {subject[:12]}…), not of {lock_path}.",
                                 hint="Pass the seal made from this lock's test results.")
    pred = statement.get("predicate", {})
    return Result(data={"statement": statement, "signed_by": [key_name(k) for k in signed]},
                  text=f"{envelope}: signature by {', '.join(key_name(k) for k in signed)} verifies; seal of "
                       f"{pred.get('bundle')} (core {pred.get('core', {}).get('version')}, lock {subject[:12]}): "
                       f"{str(pred.get('verdict')).upper()}")
