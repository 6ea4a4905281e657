"""Reading one scenario file against a loaded catalogue (what ``cdmo simulate`` starts from).

The file goes through the same pipeline as a definition (``validation._read``: the safe
YAML reader with line marks, the header, the pydantic model with errors in words), then
through :func:`scenario_checks.check_scenario` against the catalogue's process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .catalog import Catalog
from .errors import DefinitionError, Finding, UnknownProcessError
from .findings import _display, _Report, _Source
from .reader import Document
from .scenario import SCENARIO_KIND, ScenarioDef
from .scenario_checks import check_scenario


@dataclass
class ScenarioFile:
    """A read scenario: its document (for positions), the model when it is usable, findings."""

    path: Path
    display: str
    doc: Document
    model: ScenarioDef | None
    """The scenario as read (None when its shape is wrong); it may still name unknown things."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def scenario(self) -> ScenarioDef | None:
        """The scenario when the file has no error at all (ready for the engine's checks)."""
        return None if self.errors else self.model

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    def finding(
        self,
        at: tuple[str | int, ...],
        message: str,
        rule: str,
        *,
        key: bool = False,
        field_name: str | None = None,
    ) -> Finding:
        """A finding at ``at`` in this file (for checks made after reading)."""
        report = _Report()
        report.add(
            _Source(self.path, self.display, self.doc),
            at,
            message,
            rule,
            key=key,
            field_name=field_name,
        )
        return report.findings[0]


def read_scenario(path: Path, catalog: Catalog, *, base: Path) -> ScenarioFile:
    """Read ``path`` and check it against ``catalog``; ``scenario`` is None on any error."""
    from .validation import _read

    src = _Source(path=path, display=_display(path, base))
    report = _Report()
    _read(src, report)
    model = src.model
    if model is not None and not isinstance(model, ScenarioDef):
        report.add(
            src,
            ("kind",),
            f"this is a {src.kind} definition, not a scenario (expected 'kind: {SCENARIO_KIND}')",
            "kind",
        )
    if isinstance(model, ScenarioDef):
        try:
            process = catalog.process(model.process)
            gates = catalog.gates_of(model.process)
        except UnknownProcessError:
            check_scenario(src, model, None, {}, report, known_processes=list(catalog.processes))
        except DefinitionError as exc:
            report.add(
                src,
                ("process",),
                f"process {model.process!r} cannot be simulated: its definitions have "
                f"{len(exc.errors)} error(s), listed with their files",
                "scenario-process",
            )
            report.findings.extend(exc.errors)
        else:
            check_scenario(src, model, process, gates, report)
    findings = sorted(set(report.findings), key=lambda f: (f.path, f.line, f.column, f.message))
    return ScenarioFile(
        path, src.display, src.doc, model if isinstance(model, ScenarioDef) else None, findings
    )
