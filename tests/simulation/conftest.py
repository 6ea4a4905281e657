"""Shared pieces of the ``cdmo simulate`` tests: a copy of the shipped tree, scenario files,
the installed ``cdmo`` as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CDMO = Path(sys.executable).parent / "cdmo"
SCENARIOS = REPO / "definitions" / "scenarios"

HEADER = """\
schema: cdmo-workflow/v1
kind: scenario
process: api-clinical-program
start: 2026-01-05T09:00:00Z
team:
  pm: paula
  customer: carl
  site-head: sita
  pd: pedro
  qc: quinn
  mfg: mia
  qa: quentin
  ra: rae
steps:
"""
"""A small scenario's head: the shipped programme, one person per role; steps follow."""

SCOPING = """\
- submit: {phase: scoping, deliverable: rfp-assessment, by: paula}
- submit: {phase: scoping, deliverable: feasibility, by: paula}
- submit: {phase: scoping, deliverable: work-order, by: carl}
- submit: {phase: scoping, deliverable: quality-agreement, by: carl}
- confirm: {gate: scoping-go, check: capacity-confirmed, by: paula}
"""
"""The steps that open the first gate (scoping-go)."""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the shipped definitions (with their scenarios) and gates."""
    for sub in ("definitions", "gates"):
        shutil.copytree(REPO / sub, tmp_path / sub)
    return tmp_path


def steps(*blocks: str) -> str:
    """Step blocks written from column 0 (each dedented), indented under ``steps:``."""
    return textwrap.indent("".join(textwrap.dedent(b) for b in blocks), "  ")


def scenario(tree: Path, *blocks: str, head: str = HEADER, name: str = "case.yaml") -> Path:
    """Write a scenario (``head`` + the step blocks) into ``tree/definitions/scenarios``."""
    path = tree / "definitions" / "scenarios" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + steps(*blocks), encoding="utf-8")
    return path


def cdmo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``cdmo`` as a real subprocess."""
    assert CDMO.exists(), "install the package: pip install -e ."
    return subprocess.run([str(CDMO), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
