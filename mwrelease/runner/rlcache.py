"""ResourceLoader's compiled output carried from one cell to the next warm one.

A cell's load.php checks make ResourceLoader compile every module's LESS and minify its JavaScript and
CSS: 10-20 s of one CPU for a big bundle, which MediaWiki keeps in APCu, so a wiki pays it once. A cell
starts a new container, with an empty APCu. ``PREPEND_PHP`` runs before each request of the cell's
``php -S`` (``auto_prepend_file``): on the server's first request it loads the entries an earlier cell
dumped, and on ``DUMP_PATH`` it dumps them. The snapshot of the localisation cache carries the dump
(``snapshots.cache_path``: same image, same lock).

Only content-addressed entries are kept: ``resourceloader-filter`` (minified JS/CSS, keyed by the md5 of
the input), ``resourceloader-mapped`` (1.41+: minified JS, same key), ``resourceloader-less`` (compiled
LESS, keyed by the source and compiler parameters, and checked by MediaWiki against the hashes of every
file it imported). Changed bytes miss the cache and are compiled again; nothing else (messages, parser
cache, sessions) crosses from one cell to the next. Nothing is loaded unless APCu is there.
"""

from __future__ import annotations

from mwrelease.runner.engine import Container
from mwrelease.runner.snapshots import L10N_DIR

PREPEND_FILE = "/var/lib/mwtest/rl-cache.php"
DUMP_FILE = f"{L10N_DIR}/resourceloader.ser"
DUMP_PATH = "/__mwrelease/rl-cache-dump"

PREPEND_PHP = f"""<?php
// mwrelease: ResourceLoader's content-addressed APCu entries, loaded from an earlier cell's dump
// (see mwrelease/runner/rlcache.py). Not MediaWiki's code; runs before each request of php -S.
if ( function_exists( 'apcu_add' ) && class_exists( 'APCUIterator' ) ) {{
	$mwrFile = '{DUMP_FILE}';
	if ( apcu_add( 'mwrelease-rl-cache-loaded', 1 ) && is_readable( $mwrFile ) ) {{
		$mwrEntries = unserialize( (string)file_get_contents( $mwrFile ), [ 'allowed_classes' => false ] );
		foreach ( is_array( $mwrEntries ) ? $mwrEntries : [] as $mwrKey => $mwrValue ) {{
			apcu_add( (string)$mwrKey, $mwrValue, 86400 );
		}}
	}}
	if ( ( $_SERVER['REQUEST_URI'] ?? '' ) === '{DUMP_PATH}' ) {{
		$mwrEntries = [];
		foreach ( new APCUIterator( '/resourceloader-(filter|mapped|less)[:%]/' ) as $mwrEntry ) {{
			$mwrEntries[$mwrEntry['key']] = $mwrEntry['value'];
		}}
		file_put_contents( "$mwrFile.part", serialize( $mwrEntries ) );
		rename( "$mwrFile.part", $mwrFile );
		header( 'Content-Type: text/plain' );
		echo count( $mwrEntries ), "\\n";
		exit;
	}}
	unset( $mwrFile, $mwrEntries, $mwrKey, $mwrValue, $mwrEntry );
}}
"""


def dump(container: Container, server: str) -> None:
    """Have the cell's server write its ResourceLoader entries to ``DUMP_FILE`` (EngineError if it cannot)."""
    container.exec(["curl", "-sS", "-fo", "/dev/null", "--max-time", "60", server + DUMP_PATH],
                   timeout=70, quiet=True).check()
