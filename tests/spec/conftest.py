from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the shipped definitions and gates in a temporary folder (not a git tree)."""
    for sub in ("definitions", "gates"):
        shutil.copytree(REPO / sub, tmp_path / sub)
    return tmp_path
