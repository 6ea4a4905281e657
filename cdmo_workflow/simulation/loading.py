"""From files to runnable scenarios: the definitions once, then each scenario file.

A scenario file is read and checked in three tiers, each reporting ``file:line:column``
findings in the format of ``cdmo validate``: the YAML and the model (``spec.validation``),
the names against the definitions (``spec.scenario_checks``), the engine's vocabulary and
limits (``checks.py``). Only a file without an error runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdmo_workflow.spec.catalog import Catalog, snapshot_hash
from cdmo_workflow.spec.errors import Finding
from cdmo_workflow.spec.models import ProcessSnapshot
from cdmo_workflow.spec.scenario import SCENARIO_FOLDER, ScenarioDef
from cdmo_workflow.spec.scenario_files import ScenarioFile, read_scenario
from cdmo_workflow.spec.validation import YAML_SUFFIXES

from .checks import engine_findings


@dataclass(frozen=True)
class Runnable:
    """A scenario ready to run: its file (for positions), its model, the pinned process."""

    file: ScenarioFile
    scenario: ScenarioDef
    snapshot: ProcessSnapshot


def scenario_files(root: Path) -> list[Path]:
    """Every scenario kept beside the definitions: ``root/definitions/scenarios/**.yaml``."""
    folder = root / "definitions" / SCENARIO_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def prepare(
    path: Path, catalog: Catalog, *, base: Path, process_id: str | None = None
) -> Runnable | list[Finding]:
    """The runnable scenario of ``path``, or every finding that keeps it from running."""
    file = read_scenario(path, catalog, base=base)
    scenario = file.model
    if scenario is None:
        return file.findings or [
            file.finding((), "the scenario cannot be read", "scenario")  # pragma: no cover
        ]
    findings = list(file.findings)
    if process_id is not None and process_id != scenario.process:
        findings.append(
            file.finding(
                ("process",),
                f"this scenario runs process {scenario.process!r}, not {process_id!r}",
                "scenario-process",
            )
        )
    findings += engine_findings(file, scenario)
    if any(f.is_error for f in findings):
        return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.message))
    process = catalog.process(scenario.process)
    gates = catalog.gates_of(scenario.process)
    snapshot = ProcessSnapshot(
        process=process, gates=gates, version_hash=snapshot_hash(process, gates)
    )
    return Runnable(file, scenario, snapshot)
