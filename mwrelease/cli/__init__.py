"""The ``mwrelease`` command line. Click only: parse, call one function, render its result.

Subcommands are imported lazily (see ``COMMANDS``) so that ``mwrelease --help`` stays fast.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any, Callable

import click

from mwrelease import __version__
from mwrelease.errors import EXIT_CODES, Interrupted, MwreleaseError
from mwrelease.output import Result, dump_json, echo_err, envelope

# name -> ("module", "attribute", "one-line help"). Add a line per command module.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "resolve": ("mwrelease.cli.resolve", "resolve", "Resolve a bundle to a lock of exact extension refs."),
    "matrix": ("mwrelease.cli.matrix", "matrix", "Show the declared (and tested) compatibility matrix."),
    "catalog": ("mwrelease.cli.catalog", "catalog", "List what catalog sources offer (list), or one extension's refs (show)."),
    "bundle": ("mwrelease.cli.bundle", "bundle", "Validate bundles; import/export Canasta RecommendedRevisions."),
    "images": ("mwrelease.cli.images", "images", "Build, list and prune core images per MediaWiki line."),
    "test": ("mwrelease.cli.test", "test", "Test a bundle or lock on real MediaWiki in containers (cells, JUnit)."),
    "seal": ("mwrelease.cli.seal", "seal", "Seal verdicts from test results: JSON statement, HTML matrix, badges."),
    "site": ("mwrelease.cli.site", "site", "Build the static compatibility site: recommended refs, tested states, logs."),
    "seal-verify": ("mwrelease.cli.seal_verify", "seal_verify", "Verify a signed seal (DSSE envelope) with a public key."),
    "key": ("mwrelease.cli.key", "key", "Generate and show SIG keys (ed25519, passphrase-encrypted)."),
    "sig": ("mwrelease.cli.sig", "sig", "The SIG of a signed channel: chairs, members, thresholds, online key."),
    "results": ("mwrelease.cli.results", "results", "Merge the results of cells run by separate CI jobs."),
    "ci": ("mwrelease.cli.ci", "ci", "Compatibility CI for an extension checkout; write fan-out CI workflows."),
    "exit-codes": ("mwrelease.cli.misc", "exit_codes", "List the exit codes and what each means."),
    "completion": ("mwrelease.cli.misc", "completion", "Print the shell completion script (bash, zsh or fish)."),
    "release": ("mwrelease.cli.release", "release", "Build release artifacts; propose, review and approve them for a signed channel."),
    "channel": ("mwrelease.cli.channel", "channel", "Publish approved releases to a channel; refresh its timestamp; show it."),
    "install": ("mwrelease.cli.install", "install", "Install a fresh wiki from a verified release of a channel."),
    "upgrade": ("mwrelease.cli.upgrade", "upgrade", "Upgrade a tarball-installed wiki from a channel, with one command."),
    "rollback": ("mwrelease.cli.upgrade", "rollback", "Undo an interrupted upgrade, or go back to the previous release."),
    "status": ("mwrelease.cli.upgrade", "status", "Show a wiki's version, upgrades, backups and newer releases."),
    "prune": ("mwrelease.cli.upgrade", "prune", "Remove old trees, backups and downloads of earlier upgrades."),
    "verify": ("mwrelease.cli.verify", "verify", "Check a wiki's files against its release: changed, missing, added."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static help strings so that --help imports no command module.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mwrelease")
def cli() -> None:
    """Release and bundle manager for third-party MediaWiki.

    Release managers resolve bundles (core + extensions + skins) to locks, test them in containers
    and seal them; small-wiki admins upgrade with one command. Run `mwrelease exit-codes` for the
    meaning of each exit code.
    """


json_option = click.option("--json", "as_json", is_flag=True, help="Print a versioned JSON envelope instead of text.")


def reporting(command: str) -> Callable[[Callable[..., Result]], Callable[..., None]]:
    """Wrap a command body that returns a Result: render text or JSON, map errors to exit codes."""

    def decorate(fn: Callable[..., Result]) -> Callable[..., None]:
        @functools.wraps(fn)
        def wrapper(*args: Any, as_json: bool = False, **kwargs: Any) -> None:
            ctx = click.get_current_context(silent=True)
            if (as_json and ctx is not None and "fmt" in ctx.params
                    and ctx.get_parameter_source("fmt") == click.core.ParameterSource.COMMANDLINE):
                # --format picks a rendering, --json the envelope: both at once used to print JSON silently.
                raise click.UsageError("--json prints the JSON envelope and --format picks a rendering; give one "
                                       "of them (--format json renders the bare rows).", ctx)
            try:
                result = fn(*args, **kwargs)
            except MwreleaseError as exc:
                if as_json:
                    click.echo(dump_json(envelope(command, exit_code=exc.exit_code, errors=[
                        {"kind": exc.kind, "message": exc.message, "details": exc.details, "hint": exc.hint,
                         **({"problems": exc.problems} if exc.problems else {})}])))
                    sys.exit(exc.exit_code)
                raise
            if as_json:
                click.echo(dump_json(envelope(command, data=result.data, exit_code=result.exit_code,
                                              warnings=result.warnings)))
            else:
                for w in result.warnings:
                    echo_err(f"warning: {w}")
                text = result.render_text()
                if text:
                    click.echo(text)
            if result.exit_code:
                sys.exit(result.exit_code)

        return wrapper

    return decorate


def main(argv: list[str] | None = None) -> None:
    try:
        from mwrelease.config import default_map, load_defaults

        cli.main(args=argv, prog_name="mwrelease", standalone_mode=False,
                 default_map=default_map(load_defaults()))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo_err("Aborted.")
        sys.exit(Interrupted.exit_code)
    except KeyboardInterrupt:
        echo_err("Interrupted: mwrelease stopped before finishing; nothing half-done was left (see the journal for upgrades).")
        sys.exit(Interrupted.exit_code)
    except MwreleaseError as exc:
        echo_err(f"error: {exc.render()}")
        sys.exit(exc.exit_code)


__all__ = ["cli", "main", "json_option", "reporting", "EXIT_CODES"]
