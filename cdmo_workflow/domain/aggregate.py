"""What the rule modules (conditions, holds, team changes, signing rules) use of the project.

``domain.project.Project`` satisfies this Protocol; the rule modules are typed against it so
that ``project.py`` can import them without an import cycle (``lint-imports``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from ..spec.models import GateDef, PhaseDef, ProcessSnapshot
from .records import Condition, GateReview, Hold, PhaseRun, ProjectState


class Aggregate(Protocol):
    code: str
    snapshot: ProcessSnapshot
    team: dict[str, list[str]]
    state: ProjectState
    conditions: list[Condition]
    holds: list[Hold]

    @property
    def phases(self) -> Mapping[str, PhaseRun]: ...

    @property
    def process_id(self) -> str: ...

    def phase_def(self, phase_id: str) -> PhaseDef: ...

    def gate_def(self, gate_id: str) -> tuple[GateDef, PhaseDef]: ...

    def successors(self, phase_id: str) -> list[str]: ...

    def downstream(self, phase_id: str) -> list[str]: ...

    def roles_of(self, user: str) -> list[str]: ...

    def open_review(self, gate_id: str) -> GateReview | None: ...

    def latest_review(self, gate_id: str) -> GateReview | None: ...

    def open_reviews(self) -> list[GateReview]: ...

    def missing(self, review: GateReview) -> list[dict[str, Any]]: ...

    def require_active(self, action: str) -> None: ...

    def require_role(self, user: str, role: str, action: str) -> None: ...

    def _emit(
        self,
        name: str,
        *,
        phase: str | None = None,
        gate: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None: ...

    def _maybe_open_gate(self, phase_id: str, now: datetime) -> None: ...

    def _open_review(
        self, phase_id: str, gate_id: str, now: datetime, reopened: bool = False
    ) -> None: ...
