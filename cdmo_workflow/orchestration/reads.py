"""The database reads of the Prefect layer (no Prefect imports): form facts, live reviews.

Everything a gate-review run shows or decides is read from the project database: the run
itself holds no state between suspends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.project import Project
from ..domain.records import ProjectState, ReviewState, iso
from ..service import Context


@dataclass(frozen=True)
class Attempt:
    """The latest sign-off attempt on a gate, as the audit trail recorded it."""

    seq: int
    at: datetime
    actor: str
    outcome: str
    rule: str | None
    reason: str | None


def last_seq(ctx: Context, code: str) -> int:
    """The last audit sequence number of the project's chain (0 for none)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        rec = uow.audit.last(code)
        return rec.seq if rec is not None else 0


def resume_epoch(ctx: Context, code: str) -> int:
    """Audit seq of the project's last accepted resume (0 if never resumed)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        return uow.audit.last_accepted("project.resume", code).get(code, 0)


@dataclass(frozen=True)
class FormFacts:
    """What a gate run's next form shows, read together."""

    project: Project
    seq: int
    """The last audit sequence number of the project's chain (0 for none)."""
    attempt: Attempt | None
    names: dict[str, str]
    """user id → printed name."""


def form_facts(ctx: Context, code: str, gate: str, window: int = 200) -> FormFacts:
    """The project, its chain head, the gate's latest sign-off attempt and the printed names,
    in one read-only unit of work (a gate run reads them once per form, not four times)."""
    from ..service.runner import load

    with ctx.db.unit_of_work(read_only=True) as uow:
        project, _ = load(ctx, uow, code)
        last = uow.audit.last(code)
        rows = uow.audit.list(code, after_seq=max(0, last.seq - window)) if last else []
        names = {u.user_id: u.name for u in uow.users.list()}
    return FormFacts(project, last.seq if last else 0, _latest_attempt(rows, gate), names)


def _latest_attempt(rows: Any, gate: str) -> Attempt | None:
    for rec in reversed(rows):
        if rec.action != "gate.sign":
            continue
        if rec.subject == gate or rec.subject.startswith(f"{gate}#"):
            return Attempt(rec.seq, rec.at, rec.actor, rec.outcome, rec.rule, rec.reason)
    return None


def artifact_facts(ctx: Context, code: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(user id → printed name, the audit summary) for the project artifact, one read."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        names = {u.user_id: u.name for u in uow.users.list()}
        return names, _audit_summary(ctx, uow, code)


def _audit_summary(ctx: Context, uow: Any, code: str, last: int = 8) -> dict[str, Any]:
    """Counts of accepted and refused commands, the latest rows, and whether the chain's head
    is the one its newest signed checkpoint records. The cost does not grow with the history:
    the full verification is `cdmo audit verify` and the housekeeping run's."""
    from ..audit.checkpoints import last_checkpoint

    counts = uow.audit.outcome_counts(code)
    tail = []
    rec = uow.audit.last(code)
    if rec is not None:
        tail = uow.audit.list(code, after_seq=max(0, rec.seq - last))
    cp = last_checkpoint(ctx.settings.checkpoint_dir, code)
    anchored = rec is not None and cp is not None and (cp.seq, cp.hash) == (rec.seq, rec.hash)
    return {
        "accepted": int(counts.get("accepted", 0)),
        "refused": int(counts.get("refused", 0)),
        "verified": anchored,
        "checked": rec.seq if rec is not None else 0,
        "first_broken": None
        if anchored
        else (
            f"head seq {rec.seq if rec else 0} has no matching signed checkpoint "
            "(run `cdmo audit verify`)"
        ),
        "last": [
            {
                "seq": r.seq,
                "at": iso(r.at),
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "outcome": r.outcome,
                "rule": r.rule,
            }
            for r in tail
        ],
    }


def review_is_live(project: Project, gate: str, review: int) -> bool:
    """True while the run for (gate, review) must keep waiting: open review, active project."""
    if project.state != ProjectState.ACTIVE:
        return False
    r = project.open_review(gate)
    return r is not None and r.number == review and r.state == ReviewState.OPEN


# ---------------------------------------------------------------- bulk reads (reconcile)
# Read queries for the reconcile pass over every open gate at once (store repositories).


@dataclass(frozen=True)
class LiveReview:
    """One open gate review of an active project, as the projects table lists it."""

    project: str
    customer: str
    gate: str
    review: int


def live_reviews(ctx: Context) -> dict[tuple[str, str, int], LiveReview]:
    """(project, gate, review) → :class:`LiveReview` for every open review of every active
    project: one query over the projects table's listing summary (no document load)."""
    out: dict[tuple[str, str, int], LiveReview] = {}
    with ctx.db.unit_of_work(read_only=True) as uow:
        for code, customer, summary in uow.projects.listing_of(ProjectState.ACTIVE.value):
            for g in summary.get("open_gates", []):
                key = (code, str(g["gate"]), int(g["review"]))
                out[key] = LiveReview(code, customer, key[1], key[2])
    return out


def open_review_count(ctx: Context, code: str) -> int:
    """Open gate reviews of one active project (0 otherwise): one primary-key read."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        row = uow.projects.state_and_summary(code)
    if row is None or row[0] != ProjectState.ACTIVE.value:
        return 0
    return len(row[1].get("open_gates", []))


def project_states(ctx: Context, codes: set[str]) -> dict[str, str]:
    """project code → state, for the given codes (missing codes are absent)."""
    if not codes:
        return {}
    with ctx.db.unit_of_work(read_only=True) as uow:
        return uow.projects.states(codes)


def last_seqs(ctx: Context, codes: set[str] | None = None) -> dict[str, int]:
    """project code → last audit sequence number (one grouped query)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        rows = uow.audit.last_seqs()
    return rows if codes is None else {k: v for k, v in rows.items() if k in codes}


def resume_epochs(ctx: Context) -> dict[str, int]:
    """project code → audit seq of its last accepted resume (absent: never resumed)."""
    with ctx.db.unit_of_work(read_only=True) as uow:
        return uow.audit.last_accepted("project.resume")
