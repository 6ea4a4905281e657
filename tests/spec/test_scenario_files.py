"""Scenario files beside the definitions: ``cdmo validate`` checks them as scenarios (never
as broken processes), and loading the definitions for a project ignores them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.spec.loader import load_catalog, validate_paths

from .conftest import REPO

runner = CliRunner()
GOOD = (REPO / "definitions" / "scenarios" / "tech-transfer-engagement.yaml").read_text()


def write(tree: Path, relative: str, text: str) -> Path:
    path = tree / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenarios_validate_clean() -> None:
    scenarios = sorted((REPO / "definitions" / "scenarios").glob("*.yaml"))
    assert len(scenarios) == 2
    assert validate_paths(scenarios, base=REPO) == []


def test_a_broken_scenario_is_reported_as_a_scenario(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tree, "definitions/scenarios/broken.yaml", GOOD.replace("- advance: 6w", "- wait: 6w"))
    write(
        tree,
        "definitions/scenarios/names.yaml",
        GOOD.replace("deliverable: gap-analysis, by: pedro", "deliverable: gap, by: peter"),
    )
    monkeypatch.chdir(tree)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "definitions/scenarios/broken.yaml:32:5: steps[1].wait: unknown step 'wait' (steps: "
        "submit, confirm, sign, close, accept, reject, hold, resume, release, advance, expect)",
        "definitions/scenarios/names.yaml:34:49: steps[3].submit.deliverable: unknown "
        "deliverable 'gap' (phase tech-transfer has: transfer-package, gap-analysis, "
        "transfer-fmea, mbr-draft)",
        "definitions/scenarios/names.yaml:34:58: steps[3].submit.by: unknown user 'peter' (the "
        "scenario's team: paula, carl, sita, pedro, quinn, mia, quentin, rae; did you mean "
        "'pedro'?)",
    ]
    # the processes are untouched: a project can still start on either
    catalog = load_catalog(tree)
    assert sorted(catalog.processes) == ["api-clinical-program", "tech-transfer-engagement"]
    assert catalog.errors == [] and catalog.spoiled == {}
    load_catalog(tree, strict=True)


def test_a_definition_in_the_scenarios_folder(tree: Path) -> None:
    process = (tree / "definitions" / "tech-transfer-engagement.yaml").read_text()
    write(tree, "definitions/scenarios/copy.yaml", process)
    findings = validate_paths([tree], base=tree)
    assert [str(f) for f in findings] == [
        "definitions/scenarios/copy.yaml:3:7: kind: files in definitions/scenarios/ are "
        "scenarios: expected 'kind: scenario', found 'process'"
    ]
    assert sorted(load_catalog(tree, strict=True).processes) == [
        "api-clinical-program",
        "tech-transfer-engagement",
    ]


def test_a_scenario_elsewhere_in_definitions_is_still_a_scenario(tree: Path) -> None:
    write(
        tree,
        "definitions/tech-transfer-engagement.scenario.yaml",
        GOOD.replace("process: tech-transfer-engagement", "process: tech-transfer"),
    )
    findings = validate_paths([tree], base=tree)
    assert [str(f) for f in findings] == [
        "definitions/tech-transfer-engagement.scenario.yaml:4:10: process: unknown process "
        "'tech-transfer' (known processes: api-clinical-program, tech-transfer-engagement; did "
        "you mean 'tech-transfer-engagement'?)"
    ]
    catalog = load_catalog(tree)
    assert catalog.errors == [] and "tech-transfer" not in catalog.spoiled


def test_a_scenario_of_a_broken_process_waits_for_it(tree: Path) -> None:
    gate = tree / "gates" / "engineering-batch-review.yaml"
    gate.write_text(gate.read_text().replace("min: 1", "min: 0", 1))
    findings = validate_paths([tree], base=tree)
    assert [f.path for f in findings] == ["gates/engineering-batch-review.yaml"]
