"""``cdmo validate`` and ``cdmo schema`` through typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdmo_workflow.cli import app

from .conftest import FIXTURES, REPO

CDMO = Path(sys.executable).parent / "cdmo"
runner = CliRunner()


def test_validate_defaults_to_definitions_and_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "definitions are valid" in result.output


def test_validate_a_folder_holding_definitions_and_gates(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(REPO)])
    assert result.exit_code == 0, result.output


def test_validate_single_files_resolves_gates_from_siblings() -> None:
    result = runner.invoke(
        app,
        [
            "validate",
            str(REPO / "definitions" / "api-clinical-program.yaml"),
            str(REPO / "gates" / "gmp-readiness.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output


def test_invalid_tree_exits_1_and_reports_every_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "invalid" / "undeclared-role-gate")
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert (
        "gates/scoping-go.yaml:13:11: signoffs[1].role: unknown role 'custmer' "
        "(process demo declares: customer, pm, qa; did you mean 'customer'?)"
    ) in result.output
    assert result.output.count("unknown role") == 4
    assert "4 error(s), 0 warning(s)" in result.output


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_no_default_folders_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2


def test_unknown_option_is_a_usage_error() -> None:
    assert runner.invoke(app, ["validate", "--frobnicate"]).exit_code == 2


def test_json_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "invalid" / "unused-gate")
    result = runner.invoke(app, ["validate", "--json"])
    assert result.exit_code == 0
    start = result.output.index("[")
    data = json.loads(result.output[start : result.output.rindex("]") + 1])
    assert data == [
        {
            "path": "gates/spare-gate.yaml",
            "line": 3,
            "column": 5,
            "field": "id",
            "message": "gate 'spare-gate' is not used by any process",
            "severity": "warning",
            "rule": "unused-gate",
        }
    ]


def test_unexpected_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import cdmo_workflow.spec.loader as loader

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(loader, "validate_paths", boom)
    monkeypatch.chdir(REPO)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "unexpected error: RuntimeError: disk on fire" in result.output
    assert "Traceback" not in result.output


def test_schema_writes_both_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for name in ("process.schema.json", "gate.schema.json"):
        data = json.loads((tmp_path / "out" / name).read_text())
        assert "schema" in data["properties"]
        assert data["title"]


def test_real_subprocess(tmp_path: Path) -> None:
    assert CDMO.exists(), "install the package: pip install -e . --no-deps"
    ok = subprocess.run([str(CDMO), "validate"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [str(CDMO), "validate"],
        cwd=FIXTURES / "invalid" / "unsafe-python-tag",
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "!!python/object/apply:os.system" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr
    missing = subprocess.run(
        [str(CDMO), "validate", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert missing.returncode == 2


def test_validate_imports_no_heavy_adapters() -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['cdmo', 'validate', {str(REPO)!r}]\n"
        "from cdmo_workflow.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('prefect', 'sqlalchemy', 'apprise') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY [] CODE 0" in out.stdout, out.stdout + out.stderr
