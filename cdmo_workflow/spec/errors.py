"""Findings about definition files, and the error raised when a catalogue cannot be loaded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one definition file, located by line and column (both 1-based).

    ``str(finding)`` renders ``path:line:column: field: message`` (a warning says so), the
    form editors and CI logs turn into clickable links.
    """

    path: str
    line: int
    column: int
    field: str
    message: str
    severity: Severity = "error"
    rule: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        label = "warning: " if self.severity == "warning" else ""
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {label}{field}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, str | int]:
        return dict(asdict(self))


class DefinitionError(Exception):
    """Definitions that cannot be used: carries every finding (errors and warnings)."""

    def __init__(self, findings: list[Finding], message: str | None = None) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.is_error]
        if message is None:
            lines = [str(f) for f in errors[:20]]
            more = len(errors) - len(lines)
            if more > 0:
                lines.append(f"... and {more} more")
            head = f"{len(errors)} error(s) in definitions"
            message = head + (":\n" + "\n".join(lines) if lines else "")
        super().__init__(message)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


class UnknownProcessError(KeyError):
    """A process id that the catalogue does not define; names the known ones."""

    def __init__(self, process_id: str, known: list[str]) -> None:
        self.process_id = process_id
        self.known = sorted(known)
        super().__init__(process_id)

    def __str__(self) -> str:
        known = ", ".join(self.known) or "none"
        return f"unknown process {self.process_id!r} (known processes: {known})"


class UnknownCalendarError(KeyError):
    """A calendar id that the catalogue does not define; names the known ones."""

    def __init__(self, calendar_id: str, known: list[str]) -> None:
        self.calendar_id = calendar_id
        self.known = sorted(known)
        super().__init__(calendar_id)

    def __str__(self) -> str:
        known = ", ".join(self.known) or "none"
        return (
            f"unknown calendar {self.calendar_id!r} (calendars/<id>.yaml; known calendars: {known})"
        )
