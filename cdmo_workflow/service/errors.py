"""The service's one refusal type: a rule refused a command, and the trail already says so."""

from __future__ import annotations

from cdmo_workflow.domain.errors import EngineError, NotFound, RuleViolation


class Refused(EngineError):
    """A command a rule refused; ``audited`` is True once its refusal row is committed."""

    def __init__(self, violation: RuleViolation | NotFound, *, audited: bool = True) -> None:
        self.violation = violation
        self.audited = audited
        self.rule = getattr(violation, "rule", "not-found")
        super().__init__(str(violation))
