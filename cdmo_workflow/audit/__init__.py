"""The audit trail: hash chain, signed checkpoints, keys, archive, replay and export.

* ``chain``        recompute hashes and links; name the first row that fails (``verify``)
* ``checkpoints``  signed chain heads appended outside the database after every commit
* ``keys``         the Ed25519 key file and the keyring of public keys (rotation)
* ``anchor``       every chain against its checkpoints (``check_database``)
* ``replay``       ``--deep``: the project documents against their trails
* ``archive``      one bundle an inspector verifies with no database
* ``export``       CSV / JSON with signature manifestations
* ``heads``        the latest signed heads as markdown (the reconcile's Prefect artifact)

The package reads the database only through the store's unit of work
(``AuditRepository.rows`` / ``heads``); hashing lives in ``cdmo_workflow.hashing``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cdmo_workflow.hashing import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    iso_utc,
    record_hash,
)

from .anchor import AuditReport, ChainReport, check, check_database
from .chain import BrokenEvent, VerifyResult, broken_sentence, verify
from .checkpoints import Checkpoint, CheckpointWriter
from .export import EXPORT_COLUMNS, export, neutralise, readable_time, signatures
from .keys import AuditKeyError

__all__ = [
    "EXPORT_COLUMNS",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "AuditKeyError",
    "AuditReport",
    "BrokenEvent",
    "ChainReport",
    "Checkpoint",
    "CheckpointWriter",
    "VerifyResult",
    "broken_sentence",
    "canonical_json",
    "check",
    "check_database",
    "checkpoint_listeners",
    "current_key",
    "export",
    "iso_utc",
    "neutralise",
    "readable_time",
    "record_hash",
    "signatures",
    "verify",
    "verify_all",
]


def checkpoint_listeners(settings: Any) -> list[CheckpointWriter]:
    """The commit listeners of a command's ``Database(url, commit_listeners=...)``."""
    return [
        CheckpointWriter(
            Path(settings.checkpoint_dir),
            Path(settings.audit_key_file),
            fsync=bool(getattr(settings, "checkpoint_fsync", False)),
        )
    ]


def current_key(settings: Any) -> str | None:
    """Fingerprint of the key in the key file (None when there is none yet; never creates)."""
    from .keys import AuditKeyError, load_or_create

    path = Path(settings.audit_key_file)
    if not path.exists():
        return None
    try:
        return load_or_create(path).fingerprint
    except AuditKeyError:
        return None


def verify_all(
    source: Any,
    settings: Any,
    chain: str | None = None,
    *,
    deep: bool = False,
    expect_keys: frozenset[str] = frozenset(),
) -> AuditReport:
    """Each chain (or one) against its checkpoints; with ``deep``, the documents as well;
    with ``expect_keys``, only checkpoints signed by those keys count."""
    report = check_database(
        source,
        Path(settings.checkpoint_dir),
        Path(settings.audit_key_file),
        chain,
        expect_keys=expect_keys,
    )
    if deep:
        from .replay import deep_check

        _compared, problems = deep_check(source, chain)
        report.deep = True
        report.add_problems(problems)
    return report
