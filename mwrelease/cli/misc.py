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


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL. Load it once per session, or install it:

    \b
      bash:  eval "$(mwrelease completion bash)"      (or > /etc/bash_completion.d/mwrelease)
      zsh:   eval "$(mwrelease completion zsh)"       (in ~/.zshrc)
      fish:  mwrelease completion fish > ~/.config/fish/completions/mwrelease.fish
    """
    from click.shell_completion import get_completion_class

    from mwrelease.cli import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "mwrelease", "_MWRELEASE_COMPLETE").source())
