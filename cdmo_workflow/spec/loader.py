"""The definitions loader: ``validate_paths`` (file:line findings) and ``load_catalog``.

The work is split by what it owns: ``reader`` (YAML with positions), ``translate`` (pydantic
errors to findings), ``checks`` (cross-checks), ``validation`` (the file pipeline) and
``catalog`` (loaded processes and their version pins). This module is the public face.
"""

from __future__ import annotations

from .catalog import Catalog, load_catalog, snapshot_hash
from .errors import DefinitionError, Finding
from .validation import validate_paths

__all__ = [
    "Catalog",
    "DefinitionError",
    "Finding",
    "load_catalog",
    "snapshot_hash",
    "validate_paths",
]
