"""The hash chain alone: recompute each row's hash and link, name the first row that fails.

A hash chain cannot see a truncated tail or a fully recomputed chain: ``anchor.check``
adds the signed checkpoints for that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, TypedDict

from cdmo_workflow.hashing import GENESIS_HASH, record_hash

from .source import Source, unit_of_work

Reason = Literal["hash mismatch", "broken link", "sequence gap"]


class BrokenEvent(TypedDict):
    chain: str
    seq: int
    id: int
    reason: Reason


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken: BrokenEvent | None = None

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_broken": dict(self.first_broken) if self.first_broken else None,
            "problem": broken_sentence(self.first_broken, None) if self.first_broken else None,
        }


def broken_sentence(broken: BrokenEvent, expected_seq: int | None) -> str:
    """One plain sentence naming the first row that does not hold."""
    chain, seq, rid = broken["chain"], broken["seq"], broken["id"]
    if broken["reason"] == "sequence gap":
        want = f"seq {expected_seq}" if expected_seq is not None else "the next seq"
        return (
            f"chain {chain}: row id {rid} has seq {seq} where {want} was expected: rows were "
            "deleted, inserted or reordered there"
        )
    if broken["reason"] == "broken link":
        return (
            f"chain {chain}: row seq {seq} (id {rid}) does not link to the row before it: rows "
            "were deleted, inserted or reordered there"
        )
    return (
        f"chain {chain}: row seq {seq} (id {rid}) does not match its hash: it was changed after "
        "it was written"
    )


def _breaks(
    rows: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], BrokenEvent | None, int]]:
    """(row, its break or None, the seq expected there) for each row; once a chain broke, its
    later rows are not checked again (None)."""
    current: str | None = None
    expected_seq = 1
    prev = GENESIS_HASH
    broken_chain: str | None = None
    for row in rows:
        if row["chain"] != current:
            current, expected_seq, prev = row["chain"], 1, GENESIS_HASH
        if row["chain"] == broken_chain:
            yield row, None, expected_seq
            continue
        reason: Reason | None = None
        if row["seq"] != expected_seq:
            reason = "sequence gap"
        elif row["prev_hash"] != prev:
            reason = "broken link"
        elif record_hash(row, row["prev_hash"]) != row["hash"]:
            reason = "hash mismatch"
        if reason is not None:
            broken_chain = row["chain"]
            broken = BrokenEvent(chain=row["chain"], seq=row["seq"], id=row["id"], reason=reason)
            yield row, broken, expected_seq
            continue
        yield row, None, expected_seq
        expected_seq = row["seq"] + 1
        prev = row["hash"]


def walk(rows: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], str | None]]:
    """(row, sentence or None) for each row; a chain's rows after its first break are None."""
    for row, broken, expected_seq in _breaks(rows):
        yield row, broken_sentence(broken, expected_seq) if broken is not None else None


def verify_rows(rows: Iterable[Mapping[str, Any]]) -> VerifyResult:
    """The hash chain alone: stops at the first broken row."""
    checked = 0
    for _row, broken, _seq in _breaks(rows):
        if broken is not None:
            return VerifyResult(ok=False, checked=checked, first_broken=broken)
        checked += 1
    return VerifyResult(ok=True, checked=checked)


def verify(source: Source, chain: str | None = None) -> VerifyResult:
    """Walk every chain (or one) in order; name the first event that does not hold.

    Streams the rows, so memory stays flat however long the trail is. This checks the chain
    only; ``anchor.check`` also checks it against the signed checkpoints.
    """
    with unit_of_work(source) as uow:
        return verify_rows(uow.audit.rows(chain))
