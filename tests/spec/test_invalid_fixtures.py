"""One broken definitions tree per rule; each prints exactly the findings in expected.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app
from cdmo_workflow.spec.errors import DefinitionError
from cdmo_workflow.spec.loader import load_catalog, validate_paths

from .conftest import FIXTURES

CASES = sorted(p for p in (FIXTURES / "invalid").iterdir() if p.is_dir())

# Cases whose findings are warnings only: the tree still loads.
WARNING_ONLY = {"gate-file-name", "unused-gate", "change-control-default"}


def _expected(case: Path) -> list[str]:
    return [line for line in (case / "expected.txt").read_text().splitlines() if line.strip()]


def test_every_rule_has_a_case() -> None:
    names = {c.name for c in CASES}
    for rule_case in (
        "yaml-syntax", "wrong-schema", "wrong-kind", "duplicate-process-id",
        "duplicate-gate-id", "duplicate-phase-id", "duplicate-deliverable-id",
        "duplicate-check-id", "duplicate-yaml-key", "unknown-after-phase",
        "unknown-recycle-to", "cycle", "unreachable", "undefined-gate", "unused-gate",
        "undeclared-role-process", "undeclared-role-gate", "recycle-to-downstream",
        "bad-duration", "unknown-decision", "quota-min-zero", "final-conditional-go",
        "unsafe-python-tag", "custom-tag", "alias-bomb", "gate-file-name", "not-a-mapping",
        "huge-integer", "quota-over-100", "duration-over-10-years", "boolean-yes-no",
        "boolean-on-off", "several-findings-one-run", "change-control-roles",
        "change-control-schema", "change-control-default", "calendar-bad-date",
        "calendar-shutdown-order", "undefined-calendar", "bad-currency",
    ):  # fmt: skip
        assert rule_case in names


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_findings_match_expected(case: Path) -> None:
    expected = _expected(case)
    assert expected, f"{case.name}/expected.txt is empty"
    findings = validate_paths([case], base=case)
    assert [str(f) for f in findings] == expected


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_cli_exit_code_and_output(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == (0 if case.name in WARNING_ONLY else 1), result.output
    for line in _expected(case):
        assert line in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_load_catalog_raises_with_the_same_findings(case: Path) -> None:
    if case.name in WARNING_ONLY:
        catalog = load_catalog(case)
        assert [str(f) for f in catalog.warnings] == _expected(case)
        return
    with pytest.raises(DefinitionError) as info:
        load_catalog(case, strict=True)
    assert [str(f) for f in info.value.findings] == _expected(case)
    assert all(line in str(info.value) for line in _expected(case) if ": warning: " not in line)
