"""Where a finding points: one source file, the report that collects findings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Finding, Severity
from .models import (
    CalendarDef,
    GateDef,
    ProcessDef,
)
from .reader import Document, format_path
from .reader import Path as DocPath
from .scenario import ScenarioDef


@dataclass
class _Source:
    """One file: where it is, what was read, and the model when it validated."""

    path: Path
    display: str
    doc: Document = field(default_factory=Document)
    kind: str | None = None
    raw_id: str | None = None
    model: ProcessDef | GateDef | ScenarioDef | CalendarDef | None = None


class _Report:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(
        self,
        src: _Source,
        path: DocPath,
        message: str,
        rule: str,
        *,
        key: bool = False,
        severity: Severity = "error",
        field_name: str | None = None,
    ) -> None:
        line, column = src.doc.mark(path, key=key)
        self.findings.append(
            Finding(
                path=src.display,
                line=line,
                column=column,
                field=format_path(path) if field_name is None else field_name,
                message=message,
                severity=severity,
                rule=rule,
            )
        )


def _display(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when below it, else as given (always with ``/``)."""
    full = os.path.abspath(path)
    root = os.path.abspath(base)
    if full == root or full.startswith(root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(full, root)).as_posix()
    return path.as_posix()


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)
