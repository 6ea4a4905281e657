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

from collections.abc import Mapping, Sequence, Set
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
        if gate is not None:
            out.extend(_gate_shortfalls(phase, gate, team, list(gate.signoffs), set()))
    return out


def remaining_shortfalls(
    process: ProcessDef,
    gates: Mapping[str, GateDef],
    team: Mapping[str, Sequence[str]],
    *,
    done: Set[str],
    signed: Mapping[str, Sequence[tuple[str, Set[str]]]],
) -> list[Shortfall]:
    """The gates still ahead that ``team`` could never pass (a team change's check).

    ``done`` are the phases whose gates have passed (they need no one any more); ``signed``
    maps a gate with an open review to its signatures so far, as ``(role, people)`` (the
    signer and, for a delegated signature, the delegator): those signatures stay valid and
    count, and their people cannot sign that review again.
    """
    out: list[Shortfall] = []
    for phase in process.phases:
        gate = gates.get(phase.gate)
        if gate is None or phase.id in done:
            continue
        quotas: list[SignoffQuota] = []
        used: set[str] = set()
        have: dict[str, int] = {}
        for role, people in signed.get(gate.id, ()):
            have[role] = have.get(role, 0) + 1
            used |= set(people)
        for q in gate.signoffs:
            left = q.min - have.get(q.role, 0)
            if left > 0:
                quotas.append(q.model_copy(update={"min": left}))
        out.extend(_gate_shortfalls(phase, gate, team, quotas, used))
    return out


def _gate_shortfalls(
    phase: PhaseDef,
    gate: GateDef,
    team: Mapping[str, Sequence[str]],
    quotas: list[SignoffQuota],
    used: Set[str],
) -> list[Shortfall]:
    """Why ``team`` (without the people in ``used``) cannot meet ``quotas`` at ``gate``."""
    if used:
        team = {r: [u for u in people if u not in used] for r, people in team.items()}
    out: list[Shortfall] = []
    for q in quotas:
        people = _people(team, q.role)
        if len(people) < q.min:
            out.append(
                Shortfall(
                    gate.id,
                    phase.id,
                    q.role,
                    q.min,
                    len(people),
                    f"gate {gate.id!r} needs {q.min} distinct {q.role!r} signer(s)"
                    + (" more" if used else "")
                    + f"; the team assigns {len(people)}"
                    + (f" ({', '.join(people)})" if people else "")
                    + (" who have not signed" if used else ""),
                )
            )
    if out:
        return out
    contributors = _contributor_roles(phase, gate)
    if _feasible(quotas, team, contributors):
        return []
    needed = sum(q.min for q in quotas)
    signers = {p for q in quotas for p in _people(team, q.role)}
    wants = ", ".join(
        f"{q.role}×{q.min}" + (" independent" if q.independent else "") for q in quotas
    )
    why = f"gate {gate.id!r} needs {needed} distinct signers ({wants})"
    if any(q.independent for q in quotas) and contributors:
        why += (
            f" and independent signers who did not contribute to phase {phase.id!r} "
            f"(contributing roles: {', '.join(contributors)})"
        )
    return [
        Shortfall(
            gate.id,
            phase.id,
            None,
            needed,
            len(signers),
            f"{why}; the team's {len(signers)} people in those roles cannot provide them",
        )
    ]
