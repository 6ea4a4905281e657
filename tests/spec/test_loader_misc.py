"""Loader details: YAML 1.2 ids, single-file checks, findings, the pre-commit hook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cdmo_workflow.spec.errors import DefinitionError, Finding
from cdmo_workflow.spec.loader import load_catalog, validate_paths

from .conftest import FIXTURES, REPO

BASE = FIXTURES / "invalid" / "unused-gate"


def _tree(tmp_path: Path) -> Path:
    shutil.copytree(BASE, tmp_path / "t")
    (tmp_path / "t" / "gates" / "spare-gate.yaml").unlink()
    (tmp_path / "t" / "expected.txt").unlink()
    return tmp_path / "t"


def test_yes_no_on_off_are_ids_not_booleans(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    proc = root / "definitions" / "demo.yaml"
    text = proc.read_text().replace("  - id: development\n", "  - id: on\n")
    text = text.replace("after: [development]", "after: [on]")
    text = text.replace(
        "  customer: Sponsor representative\n", "  customer: Sponsor\n  no: No one\n"
    )
    proc.write_text(text)
    catalog = load_catalog(root)
    assert [p.id for p in catalog.processes["demo"].phases] == ["scoping", "on", "release"]
    assert "no" in catalog.processes["demo"].roles


def test_single_file_reports_only_that_file(tmp_path: Path) -> None:
    case = FIXTURES / "invalid" / "undeclared-role-gate"
    gate_only = validate_paths([case / "gates" / "scoping-go.yaml"], base=case)
    assert len(gate_only) == 4 and {f.path for f in gate_only} == {"gates/scoping-go.yaml"}
    assert validate_paths([case / "gates" / "final-go.yaml"], base=case) == []


def test_missing_path_is_a_finding(tmp_path: Path) -> None:
    [finding] = validate_paths([tmp_path / "nope.yaml"], base=tmp_path)
    assert finding.rule == "path" and finding.is_error


def test_finding_renders_one_line() -> None:
    f = Finding("gates/x.yaml", 14, 11, "signoffs[1].role", "unknown role 'mfgg'")
    assert str(f) == "gates/x.yaml:14:11: signoffs[1].role: unknown role 'mfgg'"
    w = Finding("gates/x.yaml", 3, 5, "id", "gate 'x' is not used", "warning", "unused-gate")
    assert str(w) == "gates/x.yaml:3:5: warning: id: gate 'x' is not used"
    assert f.to_dict()["line"] == 14


def test_definition_error_lists_errors(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_catalog(tmp_path)
    assert "no definitions/ folder" in str(info.value)


def test_pre_commit_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert list(hooks) == ["cdmo-validate", "cdmo-simulate"]
    assert hooks["cdmo-validate"]["entry"] == "cdmo validate"
    assert hooks["cdmo-simulate"]["entry"] == "cdmo simulate --all --quiet"
    for hook in hooks.values():
        assert hook["files"] == r"^(definitions|gates)/.*\.ya?ml$"
        assert hook["pass_filenames"] is False and hook["language"] == "python"
