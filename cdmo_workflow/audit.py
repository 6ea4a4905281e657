"""The audit trail's hash chain: canonical records, verification and export.

Hashing is pure (standard library only). ``verify`` and ``export`` read the database through
SQLAlchemy imported inside the functions, so importing this module stays cheap.

Each row's ``hash`` is SHA-256 over the canonical JSON of its fields (chain, seq, at, actor,
action, subject, outcome, rule, reason, old, new, events) plus ``prev_hash``; the first row of
a chain links to 64 zeros.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from cdmo_workflow.store.uow import UnitOfWork

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


def _default(obj: Any) -> Any:
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
        default=_default,
    )


def record_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 hex of the canonical JSON of ``fields`` (the hashed ones) plus ``prev_hash``."""
    body = {k: fields.get(k) for k in HASHED_FIELDS}
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- verify


class BrokenEvent(TypedDict):
    chain: str
    seq: int
    id: int
    reason: Literal["hash mismatch", "broken link", "sequence gap"]


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken: BrokenEvent | None = None

    def __bool__(self) -> bool:
        return self.ok


def _connection(source: Engine | UnitOfWork | Connection) -> tuple[Connection, bool]:
    """(connection, owned): a UnitOfWork lends its connection, an Engine gets a new one."""
    from sqlalchemy.engine import Connection, Engine

    if isinstance(source, Connection):
        return source, False
    if isinstance(source, Engine):
        from cdmo_workflow.store.engine import translate_connect_errors

        with translate_connect_errors(source):
            conn = source.connect().execution_options(sqlite_begin="DEFERRED")
        return conn, True
    return source.connection, False


def _rows(
    source: Engine | UnitOfWork | Connection, chain: str | None
) -> Iterator[Mapping[str, Any]]:
    import sqlalchemy as sa

    from cdmo_workflow.store.tables import audit_events

    c = audit_events.c
    stmt = sa.select(audit_events).order_by(c.chain, c.seq).execution_options(yield_per=1000)
    if chain is not None:
        stmt = stmt.where(c.chain == chain)
    conn, owned = _connection(source)
    try:
        yield from conn.execute(stmt).mappings()  # type: ignore[misc]
    finally:
        if owned:
            conn.rollback()
            conn.close()


def verify(source: Engine | UnitOfWork | Connection, chain: str | None = None) -> VerifyResult:
    """Walk every chain (or one) in order; name the first event that does not hold.

    Streams the rows, so memory stays flat however long the trail is.
    """
    checked = 0
    current: str | None = None
    expected_seq = 1
    prev = GENESIS_HASH
    for row in _rows(source, chain):
        if row["chain"] != current:
            current, expected_seq, prev = row["chain"], 1, GENESIS_HASH
        reason: Literal["hash mismatch", "broken link", "sequence gap"] | None = None
        if row["seq"] != expected_seq:
            reason = "sequence gap"
        elif row["prev_hash"] != prev:
            reason = "broken link"
        elif record_hash(row, row["prev_hash"]) != row["hash"]:
            reason = "hash mismatch"
        if reason is not None:
            broken = BrokenEvent(chain=row["chain"], seq=row["seq"], id=row["id"], reason=reason)
            return VerifyResult(ok=False, checked=checked, first_broken=broken)
        checked += 1
        expected_seq = row["seq"] + 1
        prev = row["hash"]
    return VerifyResult(ok=True, checked=checked)


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "at",
    "seq",
    "actor",
    "action",
    "subject",
    "outcome",
    "rule",
    "reason",
    "old",
    "new",
    "events",
    "signature",
    "hash",
    "prev_hash",
)


def readable_time(value: datetime | str | None) -> str:
    """``2026-11-25T12:00:00Z`` (fractions only when there are any)."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        value = parsed
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.isoformat(timespec=spec).replace("+00:00", "Z")


def signatures(row: Mapping[str, Any]) -> list[str]:
    """The signature manifestations (11.50) carried by one audit row, as readable lines."""
    from cdmo_workflow.identity import manifestation

    found: list[Mapping[str, Any]] = []
    new = row.get("new")
    if isinstance(new, Mapping) and (
        row.get("action") == "gate.sign" or {"meaning", "signed_at"} <= new.keys()
    ):
        found.append(new)
    for ev in row.get("events") or []:
        data = ev.get("data") if isinstance(ev, Mapping) else None
        if (
            isinstance(data, Mapping)
            and ev.get("name") == "gate.signed"
            and "meaning" in data
            and not any(_same_signature(data, f) for f in found)
        ):
            found.append(data)
    return [
        manifestation(
            name=str(sig.get("name") or sig.get("user") or "?"),
            user=sig.get("user"),
            role=sig.get("role"),
            signed_at=readable_time(sig.get("signed_at") or row.get("at")),
            meaning=str(sig.get("meaning") or "?"),
            decision=sig.get("decision"),
            record_hash=sig.get("record_hash"),
        )
        for sig in found
    ]


def _same_signature(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("user", "signed_at", "meaning", "record_hash"))


def _export_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "chain": row["chain"],
        "at": readable_time(row["at"]),
        "seq": row["seq"],
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "outcome": row["outcome"],
        "rule": row["rule"],
        "reason": row["reason"],
        "old": row["old"],
        "new": row["new"],
        "events": row["events"],
        "signature": "; ".join(signatures(row)) or None,
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
    }


def export(
    source: Engine | UnitOfWork | Connection,
    chain: str | None,
    fmt: Literal["csv", "json"] = "csv",
    out: IO[str] | None = None,
) -> str:
    """Every event of ``chain`` (or all chains) in human-readable CSV or JSON.

    Writes to ``out`` when given (and returns ""), else returns the text.
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"export format must be 'csv' or 'json', got {fmt!r}")
    stream: IO[str] = out if out is not None else io.StringIO()
    if fmt == "csv":
        columns = ("chain", *EXPORT_COLUMNS) if chain is None else EXPORT_COLUMNS
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in _rows(source, chain):
            rec = _export_row(row)
            writer.writerow([_cell(rec[col]) for col in columns])
    else:
        stream.write("[")
        for i, row in enumerate(_rows(source, chain)):
            stream.write(",\n  " if i else "\n  ")
            stream.write(json.dumps(_export_row(row), ensure_ascii=False, default=_default))
        stream.write("\n]\n")
    return "" if out is not None else stream.getvalue()  # type: ignore[attr-defined]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | bool):
        return str(value)
    return canonical_json(value)
