from __future__ import annotations

import click

from mwrelease.cli import json_option, reporting
from mwrelease.errors import EXIT_CODES
from mwrelease.output import Result


@click.command("exit-codes")
@json_option
@reporting("exit-codes")
def exit_codes() -> Result:
    """List mwrelease's exit codes and what each means."""
    return Result(data={str(k): v for k, v in EXIT_CODES.items()},
                  text="\n".join(f"{k:>4}  {v}" for k, v in EXIT_CODES.items()))
