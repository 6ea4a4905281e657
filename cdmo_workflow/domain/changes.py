"""What every command of the aggregate shares: its audit ``Change``, the authenticated
``Signer`` and the evidence and reason checks. A module of its own so that the rule modules
(conditions, holds, team changes) and ``project.py`` both use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import RuleViolation
from .limits import check_text


@dataclass(frozen=True)
class Change:
    """What an accepted command did, as the audit trail records it."""

    action: str
    subject: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass(frozen=True)
class Signer:
    """An authenticated person: the service has verified the password before this exists."""

    user: str
    name: str


def require_evidence(evidence: str) -> None:
    if not evidence or not evidence.strip():
        raise RuleViolation(
            "evidence-required", "evidence is required (a document reference, e.g. DMS id)"
        )
    check_text("evidence", evidence)


def require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise RuleViolation("reason-required", "a reason is required")
    check_text("reason", reason)
