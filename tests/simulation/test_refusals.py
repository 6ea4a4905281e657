"""A step the engine refuses is an outcome: ``expect: {refused: RULE}`` right after it passes;
any other refusal fails the run with its rule, at the step's ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app

from .conftest import SCOPING, scenario

runner = CliRunner()
FILE = "definitions/scenarios/case.yaml"
PEDRO_SUBMITS = "- submit: {phase: scoping, deliverable: work-order, by: pedro}\n"
PEDRO_REFUSED = (
    "refused: user 'pedro' is not assigned to role 'customer' on project SIM-1 and cannot "
    "submit deliverable 'work-order' (holds: pd) [rule: not-assigned-to-role] (write "
    "`- expect: {refused: not-assigned-to-role}` after the step if that is intended)"
)


def run(tree: Path, monkeypatch: pytest.MonkeyPatch, *blocks: str):
    path = scenario(tree, *blocks)
    monkeypatch.chdir(tree)
    return runner.invoke(app, ["simulate", "api-clinical-program", "-s", str(path)])


def failures(output: str) -> list[str]:
    lines = output.splitlines()
    if not any(line.endswith("failure(s):") for line in lines):
        return []
    start = max(i for i, line in enumerate(lines) if line.endswith("failure(s):"))
    return lines[start + 1 :]


def test_an_expected_refusal_passes(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tree, monkeypatch, PEDRO_SUBMITS, "- expect: {refused: not-assigned-to-role}\n")
    assert result.exit_code == 0, result.output
    assert (
        "  1  line 15   2026-01-05 09:00 Mon  submit scoping/work-order by pedro  -> REFUSED "
        "[rule: not-assigned-to-role]: user 'pedro' is not assigned to role 'customer'"
    ) in result.stdout
    assert "  2  line 16   2026-01-05 09:00 Mon  expect  -> ok (1 check(s))" in result.stdout


def test_an_unexpected_refusal_fails_with_its_rule(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tree, monkeypatch, PEDRO_SUBMITS, SCOPING)
    assert result.exit_code == 1
    assert failures(result.stdout) == [f"{FILE}:15:5: step 1 (submit): {PEDRO_REFUSED}"]


def test_a_refusal_as_the_last_step_fails_too(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tree, monkeypatch, SCOPING, "- hold: {by: carl, reason: Not mine}\n")
    assert result.exit_code == 1
    assert failures(result.stdout) == [
        f"{FILE}:20:5: step 6 (hold): refused: user 'carl' may not hold project SIM-1: only "
        "the manager role 'pm' or the quality role 'qa' may (holds: customer) [rule: "
        "not-assigned-to-role] (write `- expect: {refused: not-assigned-to-role}` after the "
        "step if that is intended)"
    ]


def test_an_expectation_without_refused_after_a_refusal(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(tree, monkeypatch, PEDRO_SUBMITS, "- expect: {phases: {scoping: pending}}\n")
    assert result.exit_code == 1
    assert failures(result.stdout) == [
        f"{FILE}:15:5: step 1 (submit): {PEDRO_REFUSED}",
        f"{FILE}:16:23: step 2 (expect): phases.scoping: phase 'scoping' is active, expected "
        "pending",
    ]


def test_another_rule_than_expected(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(tree, monkeypatch, PEDRO_SUBMITS, "- expect: {refused: gate-not-open}\n")
    assert result.exit_code == 1
    assert failures(result.stdout) == [
        f"{FILE}:16:23: step 2 (expect): refused: step 1 (submit) was refused with rule "
        "'not-assigned-to-role', expected 'gate-not-open': user 'pedro' is not assigned to role "
        "'customer' on project SIM-1 and cannot submit deliverable 'work-order' (holds: pd)"
    ]


def test_a_refusal_that_did_not_happen(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(
        tree,
        monkeypatch,
        "- submit: {phase: scoping, deliverable: work-order, by: carl}\n",
        "- expect: {refused: not-assigned-to-role}\n",
    )
    assert result.exit_code == 1
    assert failures(result.stdout) == [
        f"{FILE}:16:23: step 2 (expect): refused: expected step 1 (submit) to be refused with "
        "rule 'not-assigned-to-role', but it was accepted"
    ]


@pytest.mark.parametrize(
    ("steps", "rule"),
    [
        ("- sign: {gate: scoping-go, by: paula, role: pm, decision: go, meaning: approval}\n",
         "gate-not-open"),
        ("- close: {condition: C1, by: paula}\n", "not-found"),
        ("- close: {condition: 'C;1', by: paula}\n", "invalid-identifier"),
        ("- close: {condition: 'C1; DROP', by: paula}\n", "field-too-long"),
        ("- resume: {by: paula, reason: nothing held}\n", "project-not-on-hold"),
        ("- hold: {by: carl, reason: not mine to hold}\n", "not-assigned-to-role"),
        ("- submit: {phase: process-development, deliverable: cpp-cqa, by: pedro}\n",
         "phase-not-active"),
        ("- submit: {phase: scoping, deliverable: feasibility, by: paula, evidence: '  '}\n",
         "evidence-required"),
        ("- submit: {phase: scoping, deliverable: feasibility, by: paula, evidence: "
         + "x" * 501 + "}\n", "field-too-long"),
    ],
)  # fmt: skip
def test_every_refusal_of_the_engine_can_be_expected(
    tree: Path, monkeypatch: pytest.MonkeyPatch, steps: str, rule: str
) -> None:
    result = run(tree, monkeypatch, steps, f"- expect: {{refused: {rule}}}\n")
    assert result.exit_code == 0, result.output
    assert f"-> REFUSED [rule: {rule}]" in result.stdout


def test_signature_rules_in_order(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sign = "- sign: {{gate: scoping-go, by: {by}, role: {role}, decision: {d}, meaning: {m}}}\n"
    result = run(
        tree,
        monkeypatch,
        SCOPING,
        sign.format(by="paula", role="qa", d="go", m="approval"),
        "- expect: {refused: role-not-in-gate}\n",
        sign.format(by="paula", role="customer", d="go", m="approval"),
        "- expect: {refused: not-assigned-to-role}\n",
        sign.format(by="paula", role="pm", d="conditional-go", m="approval"),
        "- expect: {refused: decision-not-allowed}\n",
        sign.format(by="paula", role="pm", d="go", m="agreement"),
        "- expect: {refused: invalid-meaning}\n",
        sign.format(by="paula", role="pm", d="kill", m="approval"),
        "- expect: {refused: kill-needs-reason}\n",
        sign.format(by="paula", role="pm", d="go", m="approval"),
        sign.format(by="paula", role="pm", d="go", m="approval"),
        "- expect: {refused: already-signed}\n",
    )
    assert result.exit_code == 0, result.output
