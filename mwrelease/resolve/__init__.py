"""The resolver's search engine (``cdcl``); the bundle-facing front is ``mwrelease.resolver``."""
