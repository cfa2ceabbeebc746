"""mwrelease: release and bundle manager for third-party MediaWiki."""

__version__ = "0.1.0"
