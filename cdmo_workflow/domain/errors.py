"""Errors of the engine. Each carries the facts it is about, so edges can render or audit them."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


class RuleViolation(EngineError):
    """A command that a rule refuses. ``rule`` is a stable identifier (e.g. ``not-independent``)."""

    def __init__(self, rule: str, message: str, **facts: Any) -> None:
        self.rule = rule
        self.message = message
        self.facts = facts
        super().__init__(f"{message} [rule: {rule}]")


class NotFound(EngineError):
    """A project, phase, gate, deliverable, check, condition or user that does not exist."""

    def __init__(self, what: str, key: str, hint: str = "") -> None:
        self.what = what
        self.key = key
        self.hint = hint
        text = f"unknown {what} {key!r}"
        super().__init__(f"{text} ({hint})" if hint else text)
