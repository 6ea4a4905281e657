"""Canonical JSON and record hashes: one definition, used by the store, the audit package,
the signature linking of the pure core and the definition snapshot hash.

Standard library only, so every layer (the pure core included) may import it.

Each audit row's ``hash`` is SHA-256 over the canonical JSON of its fields (chain, seq, at,
actor, action, subject, outcome, rule, reason, old, new, events) plus ``prev_hash``; the first
row of a chain links to ``GENESIS_HASH`` (64 zeros).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "chain",
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "outcome",
    "rule",
    "reason",
    "old",
    "new",
    "events",
)


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` and always six fractional digits (naive means UTC)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso_utc(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=lambda v: canonical_json(v))
    if isinstance(obj, bytes):
        return obj.hex()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "model_dump"):  # pydantic models
        return obj.model_dump(mode="json")
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    raise TypeError(f"{type(obj).__name__} cannot be put in an audit record")


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text, times as ISO 8601 UTC ``...Z``; no NaN."""
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=json_default,
    )


def sha256_of(obj: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def record_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 hex of the canonical JSON of ``fields`` (the hashed ones) plus ``prev_hash``."""
    body = {k: fields.get(k) for k in HASHED_FIELDS}
    body["prev_hash"] = prev_hash
    return sha256_of(body)
