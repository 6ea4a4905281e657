"""``cdmo simulate`` as a real subprocess: the shipped scenarios, a broken expectation, the
JSON output, usage errors, and no heavy adapter imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HEADER, REPO, SCENARIOS, SCOPING, cdmo, scenario

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_one_scenario_per_shipped_process() -> None:
    processes = sorted(p.stem for p in (REPO / "definitions").glob("*.yaml"))
    assert [p.stem for p in SHIPPED] == processes


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_runs_green(path: Path) -> None:
    result = cdmo("simulate", path.stem, "--scenario", str(path.relative_to(REPO)), cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"PASS definitions/scenarios/{path.name}: ")
    assert "project completed" in last
    # the story the issue asks for: a conditional go, a recycle, a hold and resume, SLA notices
    for needle in (
        "decided conditional-go",
        "decided recycle (veto by quentin)",
        "project on hold",
        "project resumed",
        "> notified reminder (period 1)" if path.stem == "api-clinical-program" else "reminder",
        "> notified escalation: sita",
        "-> REFUSED [rule: ",
    ):
        assert needle in result.stdout, needle


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_names_its_json_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/scenario.schema.json"


def test_all_runs_every_scenario_beside_the_definitions() -> None:
    result = cdmo("simulate", "--all", "--quiet", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        f"PASS definitions/scenarios/{p.name}" for p in SHIPPED
    ]


def test_all_with_a_process_runs_only_its_scenarios() -> None:
    result = cdmo("simulate", "tech-transfer-engagement", "--all", "-q", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS ") == 1
    assert "tech-transfer-engagement.yaml" in result.stdout


def test_definitions_option_and_environment(tmp_path: Path) -> None:
    by_option = cdmo("simulate", "--all", "-q", "--definitions", str(REPO), cwd=tmp_path)
    assert by_option.returncode == 0, by_option.stdout + by_option.stderr
    assert by_option.stdout.count("PASS ") == len(SHIPPED)
    by_global = cdmo("--definitions", str(REPO), "simulate", "--all", "-q", cwd=tmp_path)
    assert by_global.returncode == 0, by_global.stdout + by_global.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no folder: nothing is written


def test_a_broken_expectation_fails_with_its_step_and_line(tree: Path) -> None:
    path = tree / "definitions" / "scenarios" / "api-clinical-program.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("forecast_end: 2027-05-26") == 1
    path.write_text(text.replace("forecast_end: 2027-05-26", "forecast_end: 2027-05-27"))
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "2027-05-27" in t)
    result = cdmo("simulate", "api-clinical-program", "-s", str(path), cwd=tree)
    assert result.returncode == 1, result.stdout + result.stderr
    expected = (
        f"definitions/scenarios/api-clinical-program.yaml:{line}:21: step 80 (expect): "
        "forecast_end: the forecast ends on 2027-05-26, expected 2027-05-27"
    )
    assert result.stdout.splitlines()[-1] == expected
    assert f"       x {expected}" in result.stdout
    assert "FAIL definitions/scenarios/api-clinical-program.yaml: 121 steps" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_failures_do_not_stop_the_run(tree: Path) -> None:
    path = scenario(
        tree,
        SCOPING,
        """\
        - expect:
            phases: {scoping: active}
            gates: {scoping-go: go}
            notified: {opened: [paula]}
        - sign: {gate: scoping-go, by: paula, role: pm, decision: go, meaning: approval}
        - expect: {gates: {scoping-go: open}}
        """,
    )
    result = cdmo("simulate", "-s", str(path), cwd=tree)
    assert result.returncode == 1
    tail = result.stdout.splitlines()[-4:]
    assert tail == [
        "3 failure(s):",
        "definitions/scenarios/case.yaml:21:16: step 6 (expect): phases.scoping: phase "
        "'scoping' is gate-review, expected active",
        "definitions/scenarios/case.yaml:22:15: step 6 (expect): gates.scoping-go: gate "
        "'scoping-go' is open, expected go",
        "definitions/scenarios/case.yaml:23:18: step 6 (expect): notified.opened: notified of "
        "'opened': carl, paula, sita; expected paula (also: carl, sita)",
    ]
    assert "  7  line 24   2026-01-05 09:00 Mon  sign scoping-go by paula" in result.stdout
    assert "  8  line 25   2026-01-05 09:00 Mon  expect  -> ok (1 check(s))" in result.stdout


def test_json_output(tree: Path) -> None:
    path = scenario(
        tree,
        SCOPING,
        """\
        - advance: 2d
        - expect: {reminded: {scoping-go: [paula, carl, sita]}}
        """,
    )
    result = cdmo("simulate", "api-clinical-program", "-s", str(path), "--json", cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = json.loads(result.stdout)
    assert run["status"] == "passed" and run["passed"] is True
    assert run["process"] == "api-clinical-program"
    assert run["final"]["gates"]["scoping-go"] == "open"
    advance = run["steps"][6]
    assert advance["kind"] == "advance" and advance["until"] == "2026-01-07T09:00:00Z"
    assert advance["notified"] == [
        {
            "event": "reminder",
            "gate": "scoping-go",
            "phase": "scoping",
            "users": ["paula", "carl", "sita"],
            "at": "2026-01-07T09:00:00Z",
            "period": 1,
        }
    ]


def test_json_output_of_a_malformed_scenario(tree: Path) -> None:
    path = scenario(tree, "- sumbit: {phase: scoping}\n")
    result = cdmo("simulate", "-s", str(path), "--json", cwd=tree)
    assert result.returncode == 2
    [run] = json.loads(result.stdout)
    assert run["status"] == "malformed"
    assert run["findings"][0]["rule"] == "unknown-step"
    assert run["findings"][0]["line"] == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "cdmo simulate: give a scenario (--scenario FILE) or --all"),
        (["-s", "nope.yaml"], "cdmo simulate: no such scenario file: nope.yaml"),
        (
            ["no-such-process", "--all"],
            "cdmo simulate: unknown process 'no-such-process' (known processes: "
            "api-clinical-program, tech-transfer-engagement)",
        ),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = cdmo("simulate", *args, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip() == message


def test_a_scenario_for_another_process(tree: Path) -> None:
    path = scenario(tree, SCOPING)
    result = cdmo("simulate", "tech-transfer-engagement", "-s", str(path), cwd=tree)
    assert result.returncode == 2
    assert result.stdout.strip() == (
        "definitions/scenarios/case.yaml:3:10: process: this scenario runs process "
        "'api-clinical-program', not 'tech-transfer-engagement'"
    )


def test_no_definitions_folder(tmp_path: Path) -> None:
    result = cdmo("simulate", "--all", cwd=tmp_path)
    assert result.returncode == 2
    assert "no definitions/ folder here" in result.stdout
    assert f"cdmo simulate: no usable definitions in {tmp_path}" in result.stderr


def test_no_scenarios_is_not_an_error(tree: Path) -> None:
    for path in (tree / "definitions" / "scenarios").iterdir():
        path.unlink()
    result = cdmo("simulate", "--all", cwd=tree)
    assert result.returncode == 0
    assert "no scenarios in" in result.stdout


def test_simulate_imports_no_heavy_adapters() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['cdmo', 'simulate', '--all', '--quiet']\n"
        "from cdmo_workflow.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('prefect', 'sqlalchemy', 'apprise', 'jinja2', 'alembic') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY [] CODE 0" in out.stdout, out.stdout + out.stderr


def test_header_constant_is_a_valid_scenario_head() -> None:
    assert HEADER.startswith("schema: cdmo-workflow/v1\nkind: scenario\n")


def test_the_pre_commit_hook_entry_runs_the_shipped_scenarios() -> None:
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    entry = hooks["cdmo-simulate"]["entry"].split()
    assert entry[0] == "cdmo"
    result = cdmo(*entry[1:], cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS ") == len(SHIPPED)


def test_the_documented_example_prints_the_documented_log(tree: Path) -> None:
    import re

    doc = (REPO / "docs" / "simulate.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "kind: scenario" in b)
    log = re.search(r"## The log\n.*?```\n(.*?)```", doc, re.S)
    assert log is not None
    path = tree / "definitions" / "scenarios" / "case.yaml"
    path.write_text(example, encoding="utf-8")
    result = cdmo("simulate", "-s", "definitions/scenarios/case.yaml", cwd=tree)
    assert result.returncode == 1
    assert result.stdout == log.group(1)
