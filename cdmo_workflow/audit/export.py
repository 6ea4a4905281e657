"""Exports of the audit trail: CSV and JSON, with the signature manifestations (11.50).

CSV cells that a spreadsheet would run as a formula are neutralised (OWASP "CSV injection"):
a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
``'``. When a checkpoint key is named, every row carries its fingerprint
(``checkpoint_key``), so an export always says which public key vouches for it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

from cdmo_workflow.hashing import canonical_json, json_default

from .source import Source, unit_of_work

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


def _signed(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The signatures one audit row carries (its ``new`` and its ``gate.signed`` events, each
    once); a row the engine refused signs nothing."""
    if row.get("outcome") == "refused":
        return []
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
    return found


def _gate_of(row: Mapping[str, Any]) -> Any:
    new = row.get("new")
    return new.get("gate") if isinstance(new, Mapping) else None


def signatures(row: Mapping[str, Any]) -> list[str]:
    """The signature manifestations (11.50) carried by one audit row, as readable lines."""
    from cdmo_workflow.identity import manifestation

    found = _signed(row)
    return [
        manifestation(
            name=str(sig.get("name") or sig.get("user") or "?"),
            user=sig.get("user"),
            role=sig.get("role"),
            signed_at=readable_time(sig.get("signed_at") or row.get("at")),
            meaning=str(sig.get("meaning") or "?"),
            decision=sig.get("decision"),
            record_hash=sig.get("record_hash"),
            on_behalf_of=sig.get("on_behalf_of"),
            on_behalf_of_name=sig.get("on_behalf_of_name"),
        )
        for sig in found
    ]


def signature_records(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The accepted signatures of one row as fields (printed name, user, role, time, meaning,
    decision, record hash), for tables; refused rows carry none."""
    found = _signed(row)
    return [
        {
            "name": str(sig.get("name") or sig.get("user") or "?"),
            "user": sig.get("user"),
            "role": sig.get("role"),
            "signed_at": readable_time(sig.get("signed_at") or row.get("at")),
            "meaning": sig.get("meaning"),
            "decision": sig.get("decision"),
            "record_hash": sig.get("record_hash"),
            "gate": sig.get("gate") or _gate_of(row),
            "comment": sig.get("comment"),
            "on_behalf_of": sig.get("on_behalf_of"),
            "on_behalf_of_name": sig.get("on_behalf_of_name"),
            "delegation": (sig.get("delegation") or {}).get("id"),
        }
        for sig in found
    ]


def reasons(row: Mapping[str, Any]) -> list[str]:
    """Why an accepted command was done, as the person gave it: the reason of a hold, resume,
    reset, deactivation or kill, the evidence closing a condition, a signer's comment."""
    if row.get("outcome") == "refused":
        return []
    out: list[str] = []

    def add(label: str, value: Any) -> None:
        text = f"{label}: {value}"
        if value and isinstance(value, str) and text not in out:
            out.append(text)

    new, old = row.get("new"), row.get("old")
    for value in (new, old) if row.get("action") != "project.resume" else (new,):
        if isinstance(value, Mapping):
            add("reason", value.get("reason"))
    for ev in row.get("events") or []:
        data = ev.get("data") if isinstance(ev, Mapping) else None
        if isinstance(data, Mapping):
            add("reason", data.get("reason"))
            if ev.get("name") == "gate.decided" and data.get("outcome"):
                add("gate decided", data.get("outcome"))
    if isinstance(new, Mapping):
        add("comment", new.get("comment"))
        if row.get("action") == "condition.close":
            add("evidence", new.get("evidence") or new.get("closed_evidence"))
    return out


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
    source: Source,
    chain: str | None,
    fmt: Literal["csv", "json"] = "csv",
    out: IO[str] | None = None,
    *,
    key: str | None = None,
) -> str:
    """Every event of ``chain`` (or all chains) in human-readable CSV or JSON.

    Writes to ``out`` when given (and returns ""), else returns the text.
    """
    if fmt not in ("csv", "json"):
        raise ValueError(f"export format must be 'csv' or 'json', got {fmt!r}")
    stream: IO[str] = out if out is not None else io.StringIO()
    with unit_of_work(source) as uow:
        rows = uow.audit.rows(chain)
        if fmt == "csv":
            columns: tuple[str, ...] = (
                ("chain", *EXPORT_COLUMNS) if chain is None else EXPORT_COLUMNS
            )
            if key is not None:
                columns = (*columns, "checkpoint_key")
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                rec = _export_row(row)
                if key is not None:
                    rec["checkpoint_key"] = key
                writer.writerow([neutralise(_cell(rec[col])) for col in columns])
        else:
            stream.write("[")
            for i, row in enumerate(rows):
                rec = _export_row(row)
                if key is not None:
                    rec["checkpoint_key"] = key
                stream.write(",\n  " if i else "\n  ")
                stream.write(json.dumps(rec, ensure_ascii=False, default=json_default))
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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula (OWASP)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
