"""Definitions: models of the YAML files, the loader, cross-checks and the version hash."""
