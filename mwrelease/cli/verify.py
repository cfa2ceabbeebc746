"""`mwrelease verify`: an installed wiki's files against its release manifest."""

from __future__ import annotations

from pathlib import Path

import click

from mwrelease.cli import json_option, reporting
from mwrelease.cli.upgrade import unsigned_option
from mwrelease.errors import IntegrityError
from mwrelease.output import Result


@click.command("verify")
@click.option("--wiki", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The wiki's directory (holding LocalSettings.php), or a symlink to it.")
@click.option("--channel", help="For a wiki not installed by mwrelease: the channel whose manifest of the installed "
                                "version it is compared with.")
@unsigned_option
@json_option
@reporting("verify")
def verify(wiki: Path, channel: str | None, allow_unsigned: bool) -> Result:
    """Check every core, extension and skin file of a wiki against the manifest of the release it runs:
    changed, missing and added files (like `wp core verify-checksums`). LocalSettings.php, images/, cache/
    and extensions or skins the release does not ship are not checked.

    \b
    Exit codes: 0 every file matches; 8 files differ (listed); 3 not a wiki, or no manifest to compare
    with (pass --channel); 4 channel unreachable.
    """
    from mwrelease.upgrade.verify import verify_wiki

    v = verify_wiki(wiki, channel=channel, allow_unsigned=allow_unsigned)
    return Result(data=v.to_json(), text=v.render(), exit_code=0 if v.diff.clean else IntegrityError.exit_code)
