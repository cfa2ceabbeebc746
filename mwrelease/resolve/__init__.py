"""The resolver's parts: the bundle as a solver problem (``problem``), bulk constraint checks
(``constraints``), the search engine (``cdcl``) and conflicts explained (``explain``); the bundle-facing
front is ``mwrelease.resolver``."""
