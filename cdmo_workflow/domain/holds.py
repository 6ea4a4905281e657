"""Holds: the project manager's hold, and quality holds under the quality unit's control. Pure.

* The **manager** (the process's ``manager_role``) holds the whole active project and resumes
  it (``project hold`` / ``project resume``), as before.
* The **quality role** (``quality_role``, default ``qa``) may hold the whole project or one
  phase at any time (also while the project is already on hold). A quality hold is released
  only with a signature of someone assigned to the quality role (password, meaning, reason:
  ``project release``); the manager cannot release it. A person holding both roles places a
  quality hold.
* A gate that decides **Hold** puts the project on hold; when a quality-role signer chose
  hold at that review (a veto or not), it is a quality hold. Releasing it reopens the gate
  with a fresh review once the project is active again.
* A held **phase** accepts no submission, confirmation or signature, and its gate does not
  open; the rest of the project goes on.

Every hold stays in ``Project.holds`` with its release (who, when, why, the signature), so
status and reports show the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import events as ev
from .changes import Change, Signer, require_reason
from .errors import NotFound, RuleViolation
from .limits import check_text
from .records import (
    GateReview,
    Hold,
    Meaning,
    PhaseState,
    ProjectState,
    ReviewState,
    iso,
    sha256_of,
)

if TYPE_CHECKING:
    from .aggregate import Aggregate as Project

ENDED = (ProjectState.KILLED, ProjectState.COMPLETED)


def quality_people(project: Project) -> list[str]:
    return list(project.team.get(project.snapshot.process.quality_role, []))


def active(project: Project) -> list[Hold]:
    return [h for h in project.holds if h.active]


def project_holds(project: Project) -> list[Hold]:
    """Active holds on the whole project."""
    return [h for h in project.holds if h.active and h.held_phase is None]


def phase_hold(project: Project, phase_id: str) -> Hold | None:
    """The active hold on ``phase_id``, if any."""
    return next((h for h in project.holds if h.active and h.held_phase == phase_id), None)


def _next_id(project: Project) -> str:
    return f"H{len(project.holds) + 1}"


def _require_not_ended(project: Project, action: str) -> None:
    if project.state in ENDED:
        raise RuleViolation(
            "project-not-active",
            f"project {project.code} is {project.state.value}: cannot {action}",
            project=project.code,
            state=project.state.value,
        )


def require_phase_not_held(project: Project, phase_id: str, action: str) -> None:
    hold = phase_hold(project, phase_id)
    if hold is not None:
        raise RuleViolation(
            "phase-on-hold",
            f"phase {phase_id!r} is on quality hold {hold.id} (by {hold.by} at {iso(hold.at)}: "
            f"{hold.reason[:200]}): cannot {action}",
            phase=phase_id,
            hold=hold.id,
        )


def place(
    project: Project, by: str, reason: str, now: datetime, phase: str | None = None
) -> Change:
    """Hold the project (manager or quality role) or one phase (quality role only)."""
    process = project.snapshot.process
    quality = by in quality_people(project)
    manager = by in project.team.get(process.manager_role, [])
    if phase is not None:
        check_text("phase id", phase)
        project.phase_def(phase)  # NotFound names the phases
    if not quality and not manager:
        held = project.roles_of(by)
        raise RuleViolation(
            "not-assigned-to-role",
            f"user {by!r} may not hold project {project.code}: only the manager role "
            f"{process.manager_role!r} or the quality role {process.quality_role!r} may "
            f"({'holds: ' + ', '.join(held) if held else 'holds no role on this project'})",
            user=by,
            role=process.manager_role,
            project=project.code,
        )
    require_reason(reason)
    if phase is not None:
        if not quality:
            raise RuleViolation(
                "phase-hold-needs-quality-role",
                f"user {by!r} may not hold one phase: only the quality role "
                f"{process.quality_role!r} may (the manager holds the whole project)",
                user=by,
                role=process.quality_role,
            )
        _require_not_ended(project, f"hold phase {phase!r}")
        if project.phases[phase].state == PhaseState.COMPLETED:
            raise RuleViolation(
                "phase-completed",
                f"phase {phase!r} has passed its gate; hold the project instead",
                phase=phase,
            )
        existing = phase_hold(project, phase)
        if existing is not None:
            raise RuleViolation(
                "already-held",
                f"phase {phase!r} is already on quality hold {existing.id}",
                phase=phase,
                hold=existing.id,
            )
        hold = Hold(
            by=by,
            reason=reason,
            at=now,
            id=_next_id(project),
            held_phase=phase,
            quality=True,
            role=process.quality_role,
        )
        project.holds.append(hold)
        project._emit(
            ev.PHASE_ON_HOLD,
            phase=phase,
            data={"by": by, "reason": reason, "hold": hold.id, "quality": True},
        )
        return Change("project.hold", f"{project.code}/{phase}", None, hold.to_dict())
    old = {"state": project.state.value}
    if quality:
        _require_not_ended(project, "put it on hold")
        existing = next((h for h in project_holds(project) if h.quality), None)
        if existing is not None:
            raise RuleViolation(
                "already-held",
                f"project {project.code} is already on quality hold {existing.id}",
                hold=existing.id,
            )
    else:
        project.require_active("put it on hold")
    hold = Hold(
        by=by,
        reason=reason,
        at=now,
        id=_next_id(project),
        quality=quality,
        role=process.quality_role if quality else process.manager_role,
    )
    project.holds.append(hold)
    project.state = ProjectState.ON_HOLD
    project._emit(
        ev.PROJECT_ON_HOLD,
        data={"by": by, "reason": reason, "gate": None, "hold": hold.id, "quality": quality},
    )
    return Change("project.hold", project.code, old, hold.to_dict())


def decided(project: Project, review: GateReview, now: datetime, veto_by: str | None) -> Hold:
    """The hold a gate's Hold decision places (a quality hold when the quality role chose it)."""
    qrole = project.snapshot.process.quality_role
    quality = any(s.role == qrole and s.decision.value == "hold" for s in review.signatures)
    hold = Hold(
        by=veto_by or "gate",
        reason=f"gate {review.gate} decided hold",
        at=now,
        gate=review.gate,
        phase=review.phase,
        id=_next_id(project),
        quality=quality,
        role=qrole if quality else None,
    )
    project.holds.append(hold)
    project.state = ProjectState.ON_HOLD
    project._emit(
        ev.PROJECT_ON_HOLD,
        phase=review.phase,
        gate=review.gate,
        data={"by": hold.by, "reason": hold.reason, "hold": hold.id, "quality": quality},
    )
    return hold


def _release(hold: Hold, by: str, reason: str, now: datetime) -> None:
    hold.released_at = now
    hold.released_by = by
    hold.release_reason = reason


def _after_release(
    project: Project, released: list[Hold], by: str, reason: str, now: datetime
) -> str:
    """Make the project active when no project hold is left; reopen gates held by a decision."""
    if project.state != ProjectState.ON_HOLD:
        return project.state.value
    remaining = project_holds(project)
    if remaining:
        project._emit(
            ev.HOLD_RELEASED,
            data={
                "by": by,
                "reason": reason,
                "holds": [h.id for h in released],
                "still_held_by": [h.id for h in remaining],
            },
        )
        return project.state.value
    first = min(released, key=lambda h: h.at)
    project.state = ProjectState.ACTIVE
    project._emit(
        ev.PROJECT_RESUMED,
        data={
            "by": by,
            "reason": reason,
            "gate": next((h.gate for h in released if h.gate), None),
            "held_since": iso(first.at),
            "holds": [h.id for h in released],
        },
    )
    for run in list(project.phases.values()):
        if run.state != PhaseState.GATE_REVIEW:
            continue
        gate_id = project.phase_def(run.id).gate
        latest = project.latest_review(gate_id)
        if (
            project.open_review(gate_id) is None
            and latest is not None
            and latest.state == ReviewState.DECIDED
            and latest.outcome is not None
            and latest.outcome.value == "hold"
        ):
            project._open_review(run.id, gate_id, now, reopened=True)
    for pid in list(project.phases):  # a phase a migration started or changed while on hold
        project._maybe_open_gate(pid, now)
    return project.state.value


def resume(project: Project, by: str, reason: str, now: datetime) -> Change:
    """The manager releases every manager (non-quality) hold on the whole project."""
    project.require_role(by, project.snapshot.process.manager_role, "resume the project")
    if project.state != ProjectState.ON_HOLD:
        raise RuleViolation(
            "project-not-on-hold",
            f"project {project.code} is {project.state.value}, not on hold",
            project=project.code,
            state=project.state.value,
        )
    require_reason(reason)
    holds = project_holds(project)
    mine = [h for h in holds if not h.quality]
    if not mine:
        quality = [h for h in holds if h.quality]
        names = "; ".join(f"{h.id} by {h.by}: {h.reason[:120]}" for h in quality)
        raise RuleViolation(
            "quality-hold",
            f"project {project.code} is on quality hold ({names}); only the quality role "
            f"{project.snapshot.process.quality_role!r} releases it, with a signature "
            f"(`cdmo project release {project.code} {quality[0].id if quality else 'H?'}`)",
            project=project.code,
            hold=quality[0].id if quality else None,
        )
    old = [h.to_dict() for h in mine]
    for h in mine:
        _release(h, by, reason, now)
    state = _after_release(project, mine, by, reason, now)
    new: dict[str, Any] = {"state": state, "released": [h.id for h in mine], "reason": reason}
    return Change("project.resume", project.code, old[0] if len(old) == 1 else {"holds": old}, new)


def release(
    project: Project,
    hold_id: str,
    signer: Signer,
    meaning: Meaning | str,
    reason: str,
    now: datetime,
) -> Change:
    """Release a quality hold with a signature of the quality role (Part 11: name, time,
    meaning, and the SHA-256 of the hold record it signs)."""
    hold = next((h for h in project.holds if h.id == hold_id), None)
    if hold is None:
        known = ", ".join(str(h.id) for h in active(project)) or "none"
        raise NotFound("hold", hold_id, f"active holds of {project.code}: {known}")
    _require_not_ended(project, f"release hold {hold_id}")
    if not hold.active:
        raise RuleViolation(
            "hold-released",
            f"hold {hold_id} was already released by {hold.released_by} at {iso(hold.released_at)}",
            hold=hold_id,
        )
    qrole = project.snapshot.process.quality_role
    if not hold.quality:
        raise RuleViolation(
            "not-a-quality-hold",
            f"hold {hold_id} is the project manager's: the manager role "
            f"{project.snapshot.process.manager_role!r} resumes it (`cdmo project resume`)",
            hold=hold_id,
        )
    if signer.user not in project.team.get(qrole, []):
        raise RuleViolation(
            "not-quality-role",
            f"user {signer.user!r} is not assigned to the quality role {qrole!r} on project "
            f"{project.code} and cannot release quality hold {hold_id}; the project manager "
            "cannot release it alone",
            user=signer.user,
            role=qrole,
            hold=hold_id,
        )
    try:
        mean = Meaning(str(meaning))
    except ValueError:
        raise RuleViolation(
            "invalid-meaning",
            f"meaning {str(meaning)[:40]!r} is not one of: {', '.join(m.value for m in Meaning)}",
            meaning=str(meaning)[:40],
        ) from None
    require_reason(reason)
    old = hold.to_dict()
    signature = {
        "user": signer.user,
        "name": signer.name,
        "role": qrole,
        "meaning": mean.value,
        "decision": "release",
        "signed_at": iso(now),
        "record_hash": sha256_of(hold.record(project.code)),
    }
    _release(hold, signer.user, reason, now)
    hold.release_signature = signature
    if hold.held_phase is not None:
        project._emit(
            ev.PHASE_RESUMED,
            phase=hold.held_phase,
            data={"by": signer.user, "reason": reason, "hold": hold.id, "signature": signature},
        )
        project._maybe_open_gate(hold.held_phase, now)
        state = project.state.value
    else:
        state = _after_release(project, [hold], signer.user, reason, now)
    new = {**signature, "hold": hold.id, "reason": reason, "state": state}
    return Change("project.release", hold_id, old, new)
