"""Can a team ever pass every gate? A pure check run at ``project start`` and by
``cdmo validate --team``.

For each gate of the process, the team must be able to provide the signers that every quota
asks for: ``min`` *distinct* people of the role (a person counts once per gate, even when they
hold two of its roles). Where a quota is ``independent``, its signers may not have submitted a
deliverable or confirmed a check of the gated phase, so every role that must contribute to the
phase (owners of required deliverables, ``confirmed_by`` roles of the gate's checks) needs
someone who is not one of those independent signers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..spec.models import GateDef, PhaseDef, ProcessDef, SignoffQuota

_SEARCH_BUDGET = 200_000
"""Assignments tried per gate before the check gives the team the benefit of the doubt."""


@dataclass(frozen=True)
class Shortfall:
    """A gate the team cannot pass; ``role`` is None when only the combination fails."""

    gate: str
    phase: str
    role: str | None
    needed: int
    assigned: int
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "gate": self.gate,
            "phase": self.phase,
            "role": self.role,
            "needed": self.needed,
            "assigned": self.assigned,
            "message": self.message,
        }


def _people(team: Mapping[str, Sequence[str]], role: str) -> list[str]:
    return list(dict.fromkeys(u for u in team.get(role, []) if u))


def _contributor_roles(phase: PhaseDef, gate: GateDef) -> list[str]:
    roles = [d.owner for d in phase.deliverables if d.required]
    roles += [c.confirmed_by for c in gate.checks]
    return list(dict.fromkeys(roles))


def _feasible(
    quotas: Sequence[SignoffQuota],
    team: Mapping[str, Sequence[str]],
    contributors: Sequence[str],
) -> bool:
    """Backtracking over the quota slots: distinct signers, independence respected."""
    slots: list[SignoffQuota] = [q for q in quotas for _ in range(q.min)]
    slots.sort(key=lambda q: len(_people(team, q.role)))  # tightest roles first
    used: set[str] = set()
    independent: set[str] = set()
    budget = [_SEARCH_BUDGET]

    def contributors_possible() -> bool:
        return all(any(p not in independent for p in _people(team, r)) for r in contributors)

    def place(i: int) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return True  # too large to decide exhaustively: do not refuse on a guess
        if i == len(slots):
            return contributors_possible()
        quota = slots[i]
        for person in _people(team, quota.role):
            if person in used:
                continue
            used.add(person)
            if quota.independent:
                independent.add(person)
            ok = (not quota.independent or contributors_possible()) and place(i + 1)
            used.discard(person)
            independent.discard(person)
            if ok:
                return True
        return False

    return place(0)


def team_shortfalls(
    process: ProcessDef, gates: Mapping[str, GateDef], team: Mapping[str, Sequence[str]]
) -> list[Shortfall]:
    """Every gate whose quotas this team can never meet (empty when the team can pass all)."""
    out: list[Shortfall] = []
    for phase in process.phases:
        gate = gates.get(phase.gate)
        if gate is None:
            continue
        short = False
        for q in gate.signoffs:
            people = _people(team, q.role)
            if len(people) < q.min:
                short = True
                out.append(
                    Shortfall(
                        gate.id,
                        phase.id,
                        q.role,
                        q.min,
                        len(people),
                        f"gate {gate.id!r} needs {q.min} distinct {q.role!r} signer(s); the "
                        f"team assigns {len(people)}"
                        + (f" ({', '.join(people)})" if people else ""),
                    )
                )
        if short:
            continue
        contributors = _contributor_roles(phase, gate)
        if _feasible(gate.signoffs, team, contributors):
            continue
        needed = sum(q.min for q in gate.signoffs)
        signers = {p for q in gate.signoffs for p in _people(team, q.role)}
        wants = ", ".join(
            f"{q.role}×{q.min}" + (" independent" if q.independent else "") for q in gate.signoffs
        )
        why = f"gate {gate.id!r} needs {needed} distinct signers ({wants})"
        if any(q.independent for q in gate.signoffs) and contributors:
            why += (
                f" and independent signers who did not contribute to phase {phase.id!r} "
                f"(contributing roles: {', '.join(contributors)})"
            )
        out.append(
            Shortfall(
                gate.id,
                phase.id,
                None,
                needed,
                len(signers),
                f"{why}; the team's {len(signers)} people in those roles cannot provide them",
            )
        )
    return out
