"""The agreed plan of a project (``kind: plan``): each phase's start and end, named milestones.

A PM enters the dates agreed with the customer (``cdmo plan set CODE plan.yaml``, or
``cdmo project start ... --plan plan.yaml``). The file goes through the safe YAML reader with
line marks and a pydantic model, then is checked against the project's process: every phase
planned, none unknown, no phase ending before it starts or before a predecessor ends. Every
problem is one finding with ``file:line:column`` (:class:`PlanFileError`); nothing is stored
when there is one.

    schema: cdmo-workflow/v1
    kind: plan
    phases:
      scoping: {start: 2026-01-05, end: 2026-01-30}
      process-development: {start: 2026-02-02, end: 2026-06-26}
    milestones:
      First GMP batch released: 2026-09-30
"""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from .errors import DefinitionError, Finding
from .findings import _display, _Report, _Source
from .graph import graph_of
from .models import Id, ProcessDef, _Frozen
from .reader import read_yaml
from .translate import _translate_errors

PLAN_KIND = "plan"


class PlannedPhase(_Frozen):
    """One phase's agreed dates (both days included)."""

    start: date = Field(description="The agreed first day, YYYY-MM-DD.")
    end: date = Field(description="The agreed last day, YYYY-MM-DD.")


class PlanDef(_Frozen):
    """The dates agreed with the customer for one project."""

    schema_: Literal["cdmo-workflow/v1"] = Field(alias="schema")
    kind: Literal["plan"]
    phases: dict[Id, PlannedPhase] = Field(description="Phase id -> its agreed start and end.")
    milestones: dict[str, date] = Field(
        default_factory=dict,
        description="Named customer milestones -> the agreed date, e.g. 'First GMP batch "
        "released: 2026-09-30'.",
    )


class PlanFileError(DefinitionError):
    """A plan file that cannot be used: every finding, with ``file:line:column``."""

    summary = "the plan file is invalid: nothing was changed"

    def __init__(self, findings: list[Finding]) -> None:
        head = f"{len(findings)} error(s) in the plan file"
        super().__init__(findings, head + ":\n" + "\n".join(str(f) for f in findings[:20]))


def read_plan(path: Path, process: ProcessDef, *, base: Path | None = None) -> PlanDef:
    """Read ``path`` and check it against ``process``; :class:`PlanFileError` on any problem."""
    src = _Source(path=path, display=_display(path, base or Path.cwd()))
    report = _Report()
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        report.add(src, (), f"cannot read file: {exc.strerror or exc}", "io")
        raise PlanFileError(report.findings) from None
    except UnicodeDecodeError:
        report.add(src, (), "file is not UTF-8 text", "encoding")
        raise PlanFileError(report.findings) from None
    src.doc = doc = read_yaml(text)
    for p in doc.problems:
        report.findings.append(
            Finding(src.display, p.line, p.column, p.field, p.message, "error", p.rule)
        )
    if report.findings:
        raise PlanFileError(report.findings)
    try:
        plan = PlanDef.model_validate(doc.data)
    except ValidationError as exc:
        _translate_errors(src, PlanDef, exc.errors(), report, {"phases": PlannedPhase})
        raise PlanFileError(report.findings) from None
    _check(src, report, plan, process)
    if report.findings:
        raise PlanFileError(report.findings)
    return plan


def _check(src: _Source, report: _Report, plan: PlanDef, process: ProcessDef) -> None:
    known = [p.id for p in process.phases]
    for pid, dates in plan.phases.items():
        if pid not in known:
            hint = difflib.get_close_matches(pid, known, n=1)
            report.add(
                src,
                ("phases", pid),
                f"unknown phase {pid!r} of process {process.id}"
                + (f" (did you mean {hint[0]!r}?)" if hint else f" (phases: {', '.join(known)})"),
                "plan-unknown-phase",
                key=True,
            )
        elif dates.end < dates.start:
            report.add(
                src,
                ("phases", pid, "end"),
                f"phase {pid!r} ends on {dates.end} before it starts on {dates.start}",
                "plan-ends-before-start",
            )
    missing = [pid for pid in known if pid not in plan.phases]
    if missing:
        report.add(
            src,
            ("phases",),
            f"every phase of process {process.id} needs its dates; not planned: "
            + ", ".join(missing),
            "plan-phase-missing",
        )
    graph = graph_of(process)
    for pid, preds in graph.items():
        mine = plan.phases.get(pid)
        if mine is None:
            continue
        for pred in preds:
            theirs = plan.phases.get(pred)
            if theirs is not None and mine.end < theirs.end:
                report.add(
                    src,
                    ("phases", pid, "end"),
                    f"phase {pid!r} is planned to end on {mine.end}, before its predecessor "
                    f"{pred!r} ends on {theirs.end}",
                    "plan-contradicts-order",
                )
