"""Continuous integration: workflows that fan cells out over a CI's runners, and `mwrelease ci` for an
extension's own repository."""
