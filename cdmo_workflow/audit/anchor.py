"""Check each chain against its signed checkpoints (the part a hash chain alone cannot see).

A checkpoint is written at every commit that appended rows, so every row must be covered
by one: a checkpoint at its seq or later. What each finding means:

* a checkpoint beyond the last row: the tail was deleted (or the whole chain, or TRUNCATE);
* a row whose hash differs from the checkpoint's at that seq: the chain was rewritten and
  recomputed from there on;
* rows newer than the last checkpoint: appended without the engine (a forged append with a
  recomputed hash looks exactly like this), or their checkpoint was lost;
* a checkpoint whose signature does not verify with a known public key: the checkpoint log
  was edited.

Every finding is one plain sentence naming the chain and the seq.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .chain import walk
from .checkpoints import Checkpoint, UnreadableLine, chain_files, read_chain
from .keys import PublicKey, trusted_keys
from .source import Source, unit_of_work

Status = Literal["intact", "broken", "no checkpoints"]


def short(digest: str | None) -> str:
    return f"{digest[:12]}…" if digest else "?"


@dataclass
class ChainReport:
    chain: str
    rows: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    checkpoints: int = 0
    last_checkpoint: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        cp = self.last_checkpoint
        return {
            "chain": self.chain,
            "ok": self.ok,
            "rows": self.rows,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints": self.checkpoints,
            "last_checkpoint": (
                {"seq": cp.seq, "hash": cp.hash, "at": cp.at, "key": cp.key} if cp else None
            ),
            "problems": list(self.problems),
        }


@dataclass
class AuditReport:
    status: Status
    chains: list[ChainReport]
    problems: list[str]
    checkpoint_dir: str
    keys: list[str]
    """Fingerprints of every public key that signed a valid checkpoint."""
    deep: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "intact"

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.chains)

    def summary(self) -> str:
        """One sentence for a human."""
        keys = ", ".join(self.keys) or "none"
        if self.status == "intact":
            deep = "; every project document matches its trail" if self.deep else ""
            return (
                f"audit trail intact: {len(self.chains)} chains, {self.rows} rows, every row "
                f"covered by a signed checkpoint (key {keys}){deep}"
            )
        if self.status == "no checkpoints":
            return f"audit trail NOT verified: {self.problems[0].split(': a deleted tail')[0]}"
        return f"audit trail BROKEN: {self.problems[0]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "ok": self.ok,
            "summary": self.summary(),
            "problems": list(self.problems),
            "checkpoint_dir": self.checkpoint_dir,
            "keys": list(self.keys),
            "deep": self.deep,
            "rows": self.rows,
            "chains": [c.to_dict() for c in self.chains],
        }

    def add_problems(self, problems: Iterable[str]) -> None:
        new = list(problems)
        if new:
            self.problems.extend(new)
            self.status = "broken"


def _valid_checkpoints(
    chain: str,
    file_name: str,
    checkpoints: Iterable[Checkpoint],
    unreadable: Iterable[UnreadableLine],
    keys: Mapping[str, PublicKey],
    report: ChainReport,
    conflicts: list[str],
    expect_keys: frozenset[str] = frozenset(),
) -> list[Checkpoint]:
    for bad in unreadable:
        report.problems.append(
            f"checkpoint line {bad.line} of {bad.file} (chain {chain}) cannot be read: the "
            "checkpoint log was edited"
        )
    valid: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        if cp.chain != chain:
            report.problems.append(
                f"the checkpoint on line {cp.line} of {file_name} names chain {cp.chain}, not "
                f"{chain}: the checkpoint log was edited"
            )
            continue
        why = cp.verify(dict(keys))
        if why is None and expect_keys and cp.key not in expect_keys:
            why = f"is signed by key {cp.key}, not by the expected {', '.join(sorted(expect_keys))}"
        if why is not None:
            report.problems.append(
                f"the checkpoint on line {cp.line} of {file_name} (chain {chain}, seq {cp.seq}) "
                f"{why}: the checkpoint log was edited"
            )
            continue
        other = valid.get(cp.seq)
        if other is not None and other.hash != cp.hash:
            conflicts.append(
                f"chain {chain}: the checkpoints of {other.when()} and {cp.when()} record "
                f"different hashes for seq {cp.seq} ({short(other.hash)} and {short(cp.hash)}): "
                f"rows from seq {cp.seq} on were deleted and written again"
            )
            continue
        valid.setdefault(cp.seq, cp)
    return [valid[s] for s in sorted(valid)]


def _against_checkpoints(
    report: ChainReport, valid: list[Checkpoint], seen: Mapping[int, str], any_checkpoints: bool
) -> None:
    chain = report.chain
    report.checkpoints = len(valid)
    report.last_checkpoint = valid[-1] if valid else None
    if not valid:
        if report.rows and any_checkpoints:
            report.problems.append(
                f"chain {chain} has {report.rows} rows (head seq {report.head_seq}, hash "
                f"{short(report.head_hash)}) but no checkpoint: it was written without the "
                "engine, or its checkpoint file was lost"
            )
        return
    top = valid[-1]
    if report.head_seq is None:
        report.problems.append(
            f"chain {chain} has no rows, but the checkpoint of {top.when()} records seq "
            f"{top.seq} with hash {short(top.hash)}: the chain was deleted or truncated"
        )
        return
    if top.seq > report.head_seq:
        report.problems.append(
            f"chain {chain} ends at seq {report.head_seq}, but the checkpoint of {top.when()} "
            f"records seq {top.seq} with hash {short(top.hash)}: rows were deleted from its tail"
        )
    for cp in valid:
        digest = seen.get(cp.seq)
        if digest is not None and digest != cp.hash:
            report.problems.append(
                f"chain {chain}: row seq {cp.seq} has hash {short(digest)}, but the checkpoint "
                f"of {cp.when()} records hash {short(cp.hash)} for seq {cp.seq}: the chain was "
                "rewritten from there on"
            )
            break
    if top.seq < report.head_seq:
        first = top.seq + 1
        span = (
            f"row seq {first} is"
            if first == report.head_seq
            else f"rows seq {first} to {report.head_seq} are"
        )
        report.problems.append(
            f"chain {chain}: {span} newer than its last checkpoint (seq {top.seq}, "
            f"{top.when()}; head hash {short(report.head_hash)}): written without the engine "
            "(a forged append) or its checkpoint was lost"
        )


def check(
    rows: Iterable[Mapping[str, Any]],
    checkpoints: Mapping[str, tuple[str, list[Checkpoint], list[UnreadableLine]]],
    keys: Mapping[str, PublicKey],
    *,
    checkpoint_dir: str,
    expect_keys: frozenset[str] = frozenset(),
    scope: str | None = None,
) -> AuditReport:
    """The pure check: ``rows`` in (chain, seq) order; ``checkpoints``: chain → (file, lines)."""
    any_checkpoints = any(cps or bad for _f, cps, bad in checkpoints.values())
    signers: set[str] = set()
    reports: dict[str, ChainReport] = {}
    for chain, group in itertools.groupby(walk(rows), key=lambda item: item[0]["chain"]):
        report = ChainReport(chain)
        file_name, cps, bad = checkpoints.get(chain, (f"{chain}.jsonl", [], []))
        conflicts: list[str] = []
        valid = _valid_checkpoints(chain, file_name, cps, bad, keys, report, conflicts, expect_keys)
        want = {cp.seq for cp in valid}
        signers.update(cp.key for cp in valid)
        seen: dict[int, str] = {}
        for row, problem in group:
            report.rows += 1
            report.head_seq, report.head_hash = row["seq"], row["hash"]
            if problem is not None:
                report.problems.append(problem)
            if row["seq"] in want:
                seen[row["seq"]] = row["hash"]
        _against_checkpoints(report, valid, seen, any_checkpoints)
        report.problems.extend(conflicts)
        reports[chain] = report
    for chain, (file_name, cps, bad) in checkpoints.items():
        if chain in reports:
            continue
        report = ChainReport(chain)
        conflicts = []
        valid = _valid_checkpoints(chain, file_name, cps, bad, keys, report, conflicts, expect_keys)
        signers.update(cp.key for cp in valid)
        _against_checkpoints(report, valid, {}, any_checkpoints)
        report.problems.extend(conflicts)
        reports[chain] = report
    chains = [reports[c] for c in sorted(reports)]
    problems = [p for c in chains for p in c.problems]
    used = sorted(signers)
    if problems:
        status: Status = "broken"
    elif not any_checkpoints:
        status = "no checkpoints"
        where = f"for chain {scope} in" if scope is not None else "in"
        problems = [
            f"no checkpoints {where} {checkpoint_dir}: a deleted tail, a deleted chain or a "
            "recomputed chain cannot be detected without them"
        ]
    else:
        status = "intact"
    return AuditReport(status, chains, problems, checkpoint_dir, used)


def read_checkpoints(
    directory: Path, chain: str | None = None
) -> dict[str, tuple[str, list[Checkpoint], list[UnreadableLine]]]:
    out = {}
    for name, path in chain_files(directory).items():
        if chain is not None and name != chain:
            continue
        cps, bad = read_chain(path)
        out[name] = (path.name, cps, bad)
    return out


def check_database(
    source: Source,
    checkpoint_dir: Path,
    key_file: Path,
    chain: str | None = None,
    expect_keys: frozenset[str] = frozenset(),
) -> AuditReport:
    """Every chain (or one) of the database against the checkpoint directory; with
    ``expect_keys``, a checkpoint signed by any other key is a finding."""
    checkpoint_dir = Path(checkpoint_dir)
    cps = read_checkpoints(checkpoint_dir, chain)
    keys = trusted_keys(Path(key_file), checkpoint_dir)
    with unit_of_work(source) as uow:
        return check(
            uow.audit.rows(chain),
            cps,
            keys,
            checkpoint_dir=str(checkpoint_dir),
            expect_keys=expect_keys,
            scope=chain,
        )
