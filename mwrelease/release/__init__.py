"""Release artifacts: tarball in MediaWiki's upstream layout, manifest, checksums, deltas, and channels."""
