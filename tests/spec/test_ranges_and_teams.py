"""Numbers and durations have ranges, booleans follow the docs, a broken file spoils only its
own processes, and `cdmo validate --team` checks a planned team (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.spec.errors import DefinitionError
from cdmo_workflow.spec.loader import load_catalog, validate_paths
from cdmo_workflow.spec.reader import read_yaml

runner = CliRunner()
SHIPPED = "api-clinical-program"
ROLES = ["pm", "customer", "site-head", "pd", "qc", "mfg", "qa", "ra"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("true", True), ("false", False)],
)
def test_only_true_and_false_are_booleans(text: str, value: object) -> None:
    assert read_yaml(f"a: {text}").data == {"a": value}


@pytest.mark.parametrize("word", ["yes", "no", "on", "off"])
def test_a_boolean_field_refuses_yes_no_on_off(tree: Path, word: str) -> None:
    gate = tree / "gates" / "gmp-readiness.yaml"
    gate.write_text(gate.read_text().replace("independent: true", f"independent: {word}", 1))
    findings = [str(f) for f in validate_paths([tree], base=tree)]
    assert len(findings) == 1, findings
    assert findings[0].startswith("gates/gmp-readiness.yaml:")
    assert f"independent: expected true or false, got '{word}'" in findings[0]


def test_a_broken_file_spoils_only_its_own_processes(tree: Path) -> None:
    (tree / "definitions" / "broken.yaml").write_text("id: x\nmin: " + "9" * 5000 + "\n")
    catalog = load_catalog(tree)
    assert catalog.snapshot(SHIPPED).process.id == SHIPPED
    assert "tech-transfer-engagement" in catalog.processes
    with pytest.raises(DefinitionError) as info:
        catalog.snapshot("not-there")  # maybe the broken one: say why, not just "unknown"
    assert any("out of range" in str(f) for f in info.value.findings)
    with pytest.raises(DefinitionError):
        load_catalog(tree, strict=True)


def test_a_broken_gate_spoils_the_processes_using_it(tree: Path) -> None:
    gate = tree / "gates" / "gmp-readiness.yaml"
    gate.write_text(gate.read_text().replace("min: 1", "min: 101", 1))
    catalog = load_catalog(tree)
    assert SHIPPED in catalog.spoiled and SHIPPED not in catalog.processes
    with pytest.raises(DefinitionError) as info:
        catalog.snapshot(SHIPPED)
    assert ["at most 100 signers" in str(f) for f in info.value.findings] == [True]


def test_huge_integer_in_validate_is_a_positioned_finding(tree: Path) -> None:
    (tree / "definitions" / "broken.yaml").write_text("schema: 9" + "9" * 4400 + "\n")
    result = runner.invoke(app, ["validate", str(tree)])
    assert result.exit_code == 1
    assert "unexpected error" not in result.output and "Traceback" not in result.output
    assert "broken.yaml:1:9: schema: the number 999999999999...999999 (4401 characters)" in (
        result.output
    )


def _team(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(body)
    return path


def test_validate_team_accepts_a_team_that_can_pass(tmp_path: Path, repo: Path) -> None:
    lines = [f"process: {SHIPPED}", "team:"] + [f"  {r}: [{r}-1]" for r in ROLES]
    team = _team(tmp_path, "\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(repo), "--team", str(team)])
    assert result.exit_code == 0, result.output


def test_validate_team_names_gate_role_and_counts(tmp_path: Path, repo: Path) -> None:
    lines = [f"process: {SHIPPED}", "team:"]
    lines += [f"  {r}: [{r}-1]" for r in ROLES if r not in ("qa", "customer")]
    lines += ["  customer: []", "  qa: qa-1", "  bogus: [b1]"]
    team = _team(tmp_path, "\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(repo), "--team", str(team), "--json"])
    assert result.exit_code == 1, result.output
    found = json.loads(result.output)
    rules = {f["rule"] for f in found}
    assert rules == {"unknown-role", "team-cannot-meet-quota"}
    customer = [f for f in found if f["field"] == "team.customer"]
    assert customer and all("needs 1 distinct 'customer'" in f["message"] for f in customer)
    assert all("assigns 0" in f["message"] for f in customer)
    assert all(f["path"].endswith("team.yaml") and f["line"] >= 1 for f in found)


def test_validate_team_refuses_an_unknown_process(tmp_path: Path, repo: Path) -> None:
    team = _team(tmp_path, "process: nope\nteam:\n  pm: [a]\n")
    result = runner.invoke(app, ["validate", str(repo), "--team", str(team)])
    assert result.exit_code == 1
    assert "team.yaml:1:10: process: unknown process 'nope'" in result.output
