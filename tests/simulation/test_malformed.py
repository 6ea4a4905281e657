"""A malformed scenario exits 2 with one finding per problem, at ``file:line:column``, in
the words of ``cdmo validate``: never a traceback, never a half-run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app

from .conftest import HEADER, SCOPING, scenario

runner = CliRunner()
FILE = "definitions/scenarios/case.yaml"
TEAM = "paula, carl, sita, pedro, quinn, mia, quentin, rae"
ROLES = "admin, customer, mfg, pd, pm, qa, qc, ra, site-head"
GATES = (
    "scoping-go, development-complete, gmp-readiness, method-transfer, clinical-release, "
    "ppq-complete, commercial-go"
)


def simulate(tree: Path, monkeypatch: pytest.MonkeyPatch, *blocks: str, head: str = HEADER):
    path = scenario(tree, *blocks, head=head)
    monkeypatch.chdir(tree)
    return runner.invoke(app, ["simulate", "api-clinical-program", "-s", str(path)])


CASES = {
    "unknown step": (
        "- sumbit: {phase: scoping, deliverable: feasibility, by: paula}\n",
        f"{FILE}:15:5: steps[0].sumbit: unknown step 'sumbit' (did you mean 'submit'?)",
    ),
    "unknown step without a near name": (
        "- approve: {gate: scoping-go}\n",
        f"{FILE}:15:5: steps[0].approve: unknown step 'approve' (steps: submit, confirm, sign, "
        "close, accept, reject, hold, resume, release, advance, expect)",
    ),
    "unknown role of a signature": (
        "- sign: {gate: scoping-go, by: paula, role: manager, decision: go, meaning: approval}\n",
        f"{FILE}:15:47: steps[0].sign.role: unknown role 'manager' (process "
        f"api-clinical-program declares: {ROLES})",
    ),
    "unknown user": (
        "- submit: {phase: scoping, deliverable: feasibility, by: paulo}\n",
        f"{FILE}:15:60: steps[0].submit.by: unknown user 'paulo' (the scenario's team: {TEAM}; "
        "did you mean 'paula'?)",
    ),
    "unknown gate": (
        "- confirm: {gate: scoping, check: capacity-confirmed, by: paula}\n",
        f"{FILE}:15:21: steps[0].confirm.gate: unknown gate 'scoping' (process "
        f"api-clinical-program has: {GATES}; did you mean 'scoping-go'?)",
    ),
    "unknown check": (
        "- confirm: {gate: scoping-go, check: capacity, by: paula}\n",
        f"{FILE}:15:40: steps[0].confirm.check: unknown check 'capacity' (gate scoping-go has: "
        "capacity-confirmed; did you mean 'capacity-confirmed'?)",
    ),
    "unknown phase": (
        "- submit: {phase: scopeing, deliverable: feasibility, by: paula}\n",
        f"{FILE}:15:21: steps[0].submit.phase: unknown phase 'scopeing' (process "
        "api-clinical-program has: scoping, process-development, tech-transfer, "
        "analytical-transfer, clinical-supply, process-validation, commercial-readiness; "
        "did you mean 'scoping'?)",
    ),
    "unknown deliverable": (
        "- submit: {phase: scoping, deliverable: rfp, by: paula}\n",
        f"{FILE}:15:43: steps[0].submit.deliverable: unknown deliverable 'rfp' (phase scoping "
        "has: rfp-assessment, feasibility, work-order, quality-agreement)",
    ),
    "bad duration": (
        "- advance: 3 days\n",
        f"{FILE}:15:14: steps[0].advance: invalid duration '3 days': use Nh, Nd, Nw, Nbd "
        "(business days) or ISO 8601 such as P10D",
    ),
    "duration out of range": (
        "- advance: 5000d\n",
        f"{FILE}:15:14: steps[0].advance: duration '5000d' is out of range: at most 10 years "
        "(3653 days, 2609bd)",
    ),
    "two kinds in one step": (
        "- {advance: 1d, expect: {project: active}}\n",
        f"{FILE}:15:5: steps[0]: a step does one thing, this one has advance, expect: write them "
        "as separate steps",
    ),
    "a step without a value": (
        "- advance:\n",
        f"{FILE}:15:5: steps[0]: step 'advance' needs a value",
    ),
    "a step that is not a mapping": (
        "- advance\n",
        f"{FILE}:15:5: steps[0]: expected a mapping, got 'advance'",
    ),
    "unknown decision": (
        "- sign: {gate: scoping-go, by: paula, role: pm, decision: maybe, meaning: approval}\n",
        f"{FILE}:15:61: steps[0].sign.decision: unknown decision 'maybe' (allowed: go, "
        "conditional-go, hold, recycle, kill)",
    ),
    "missing meaning": (
        "- sign: {gate: scoping-go, by: paula, role: pm, decision: go}\n",
        f"{FILE}:15:11: steps[0].sign.meaning: required field 'meaning' is missing",
    ),
    "unknown field of a step": (
        "- submit: {phase: scoping, deliverable: feasibility, by: paula, evidance: X}\n",
        f"{FILE}:15:67: steps[0].submit.evidance: unknown field 'evidance' (did you mean "
        "'evidence'?)",
    ),
    "unknown expectation": (
        "- expect: {phase: {scoping: active}}\n",
        f"{FILE}:15:14: steps[0].expect.phase: unknown field 'phase' (did you mean 'phases'?)",
    ),
    "empty expectation": (
        "- expect: {}\n",
        f"{FILE}:15:13: steps[0].expect: an expectation needs at least one of: refused, "
        "project, phases, gates, conditions, notified, reminded, escalated, forecast_end, "
        "slip_days",
    ),
    "unknown event": (
        "- expect: {notified: {opend: [paula]}}\n",
        f"{FILE}:15:25: steps[0].expect.notified.opend: unknown event 'opend' (events: "
        "started, phase-activated, opened, signed, refused, decided, condition-opened, "
        "condition-closed, on-hold, resumed, completed, killed, reminder, escalation, "
        "security, team-changed, condition-accepted, condition-rejected, condition-reminder, "
        "condition-escalation, budget-overrun)",
    ),
    "unknown phase state": (
        "- expect: {phases: {scoping: done}}\n",
        f"{FILE}:15:32: steps[0].expect.phases.scoping: unknown phase state 'done' (one of: "
        "pending, active, gate-review, completed)",
    ),
    "unknown project state": (
        "- expect: {project: paused}\n",
        f"{FILE}:15:23: steps[0].expect.project: unknown project state 'paused' (one of: "
        "active, on-hold, completed, killed)",
    ),
    "unknown gate reading": (
        "- expect: {gates: {scoping-go: passed}}\n",
        f"{FILE}:15:34: steps[0].expect.gates.scoping-go: unknown gate reading 'passed' (one "
        "of: waiting, open, go, conditional-go, hold, recycle, kill)",
    ),
    "bad date": (
        "- expect: {forecast_end: next spring}\n",
        f"{FILE}:15:28: steps[0].expect.forecast_end: expected a date (YYYY-MM-DD), got "
        "'next spring'",
    ),
    "refused with nothing before it": (
        "- expect: {refused: not-assigned-to-role}\n",
        f"{FILE}:15:23: steps[0].expect.refused: there is no step before this expectation "
        "that could be refused",
    ),
    "refused after an advance": (
        "- advance: 1d\n- expect: {refused: not-assigned-to-role}\n",
        f"{FILE}:16:23: steps[1].expect.refused: the step before is 'advance', which the "
        "engine never refuses; put the expectation right after the command it is about",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_step(tree: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    steps, message = CASES[case]
    result = simulate(tree, monkeypatch, steps)
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [message]
    assert "Traceback" not in result.output
    assert f"MALFORMED {FILE}: 1 error(s); the scenario cannot run" in result.stderr


def head_with(old: str, new: str) -> str:
    assert old in HEADER
    return HEADER.replace(old, new)


HEAD_CASES = {
    "unknown role in the team": (
        head_with("  ra: rae\n", "  ra: rae\n  regulatory: ron\n"),
        f"{FILE}:14:3: team.regulatory: unknown role 'regulatory' (process "
        f"api-clinical-program declares: {ROLES})",
    ),
    "no manager": (
        head_with("  pm: paula\n", ""),
        f"{FILE}:6:3: team: no one is assigned to the manager role 'pm'",
    ),
    "unknown process": (
        head_with("process: api-clinical-program", "process: api-clinical-programme"),
        f"{FILE}:3:10: process: unknown process 'api-clinical-programme' (known processes: "
        "api-clinical-program, tech-transfer-engagement; did you mean 'api-clinical-program'?)",
    ),
    "a printed name for someone outside the team": (
        HEADER.replace("steps:\n", "names:\n  zed: Zed Outsider\nsteps:\n"),
        f"{FILE}:15:3: names.zed: unknown user 'zed' (the scenario's team: {TEAM})",
    ),
    "an invalid user id": (
        head_with("  pm: paula\n", "  pm: paula smith\n"),
        f"{FILE}:6:7: team.pm[0]: invalid user id 'paula smith': it must match "
        "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$ (letters, digits, dot, dash, underscore or @; "
        "starts with a letter or digit)",
    ),
    "an invalid project code": (
        head_with("team:\n", "project: {code: hx 1}\nteam:\n"),
        f"{FILE}:5:17: project.code: invalid project code 'hx 1': it must match "
        "^[A-Z0-9][A-Z0-9._-]{0,31}$ (capital letters, digits, dot, dash, underscore; starts "
        "with a letter or digit)",
    ),
    "a watcher on business days": (
        head_with("team:\n", "watch_every: 1bd\nteam:\n"),
        f"{FILE}:5:14: watch_every: the watcher runs on calendar time: use hours, days or "
        "weeks, not business days",
    ),
    "a start that is not a time": (
        head_with("start: 2026-01-05T09:00:00Z", "start: soon"),
        f"{FILE}:4:8: start: expected a time such as 2026-01-05T09:00:00Z, got 'soon'",
    ),
    "a start out of range": (
        head_with("start: 2026-01-05T09:00:00Z", "start: 9999-12-31T23:00:00Z"),
        f"{FILE}:4:8: start: start must lie between 1970-01-01 and 2999-12-31",
    ),
    "a definition instead of a scenario": (
        head_with("kind: scenario", "kind: process"),
        f"{FILE}:2:7: kind: files in definitions/scenarios/ are scenarios: expected "
        "'kind: scenario', found 'process'",
    ),
}


@pytest.mark.parametrize("case", list(HEAD_CASES))
def test_malformed_head(tree: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    head, message = HEAD_CASES[case]
    result = simulate(tree, monkeypatch, SCOPING, head=head)
    assert result.exit_code == 2, result.output
    assert message in result.stdout.splitlines(), result.stdout
    assert "Traceback" not in result.output


def test_a_team_that_can_never_pass_a_gate(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = simulate(tree, monkeypatch, SCOPING, head=head_with("  site-head: sita\n", ""))
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [
        f"{FILE}:6:3: team: the project cannot start: the team cannot meet a quota: gate "
        "'scoping-go' needs 1 distinct 'site-head' signer(s); the team assigns 0 (and 1 more); "
        "assign more people (check a planned team with `cdmo validate --team team.yaml`)"
    ]


def test_every_problem_of_a_file_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names and vocabulary are all reported in one run (a shape error stops at the shape)."""
    result = simulate(
        tree,
        monkeypatch,
        "- submit: {phase: scoping, deliverable: rfp, by: zed}\n",
        "- advance: 1d\n",
        "- expect: {phases: {nowhere: done}, refused: quota-met}\n",
    )
    assert result.exit_code == 2
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == [
        "steps[0].submit.deliverable",
        "steps[0].submit.by",
        "steps[2].expect.phases.nowhere",
        "steps[2].expect.phases.nowhere",
        "steps[2].expect.refused",
    ]
    assert "5 error(s)" in result.stderr


def test_broken_definitions_are_named_with_their_files(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tree / "gates" / "scoping-go.yaml"
    gate.write_text(gate.read_text().replace("role: customer", "role: custmer"))
    result = simulate(tree, monkeypatch, SCOPING)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{FILE}:3:10: process: process 'api-clinical-program' cannot "
                               "be simulated: its definitions have ")  # fmt: skip
    assert any(line.startswith("gates/scoping-go.yaml:") for line in lines)
