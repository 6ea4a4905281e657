"""The budget records of a project: quotes and cost totals per phase, as plain data.

Kept apart from the rules (``domain/budget.py``) so the project aggregate can hold a
:class:`Budget` without importing the rules back (no import cycle). Amounts are ``Decimal``;
in JSON they are their exact text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .money import text
from .records import iso, parse_time

ZERO = Decimal(0)


@dataclass
class PhaseBudget:
    """The quote and the running cost totals of one phase."""

    quoted: Decimal | None = None
    quoted_by: str | None = None
    quoted_at: datetime | None = None
    change_request: str | None = None
    """The change request that set the current quote (None for the first quote)."""
    revisions: list[dict[str, Any]] = field(default_factory=list)
    """Earlier quotes, oldest first: ``{amount, by, at, change_request}``."""
    committed: Decimal = ZERO
    actual: Decimal = ZERO
    entries: int = 0
    over: bool = False
    """Past the overrun threshold now (an overrun is announced when this turns true)."""

    @property
    def spent(self) -> Decimal:
        return self.committed + self.actual

    def to_dict(self) -> dict[str, Any]:
        return {
            "quoted": text(self.quoted) if self.quoted is not None else None,
            "quoted_by": self.quoted_by,
            "quoted_at": iso(self.quoted_at),
            "change_request": self.change_request,
            "revisions": list(self.revisions),
            "committed": text(self.committed),
            "actual": text(self.actual),
            "entries": self.entries,
            "over": self.over,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PhaseBudget:
        quoted = d.get("quoted")
        return cls(
            quoted=Decimal(quoted) if quoted is not None else None,
            quoted_by=d.get("quoted_by"),
            quoted_at=parse_time(d.get("quoted_at")),
            change_request=d.get("change_request"),
            revisions=list(d.get("revisions") or []),
            committed=Decimal(d.get("committed") or "0"),
            actual=Decimal(d.get("actual") or "0"),
            entries=int(d.get("entries") or 0),
            over=bool(d.get("over")),
        )


@dataclass
class Budget:
    """The budget of a project: its currency and, per phase, quote and cost totals."""

    currency: str
    phases: dict[str, PhaseBudget] = field(default_factory=dict)
    over: bool = False
    """The project's total is past the threshold now."""

    def phase(self, phase_id: str) -> PhaseBudget:
        return self.phases.setdefault(phase_id, PhaseBudget())

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "phases": {k: v.to_dict() for k, v in self.phases.items()},
            "over": self.over,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Budget:
        return cls(
            currency=str(d["currency"]),
            phases={k: PhaseBudget.from_dict(v) for k, v in (d.get("phases") or {}).items()},
            over=bool(d.get("over")),
        )
