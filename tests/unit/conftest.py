"""Fixtures of the pure unit tests: snapshots built from dicts, projects, a clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdmo_workflow.domain.project import Project
from cdmo_workflow.spec.models import ProcessSnapshot

from .builders import Clock, diamond, start

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def snap() -> ProcessSnapshot:
    return diamond()


@pytest.fixture
def project(snap: ProcessSnapshot) -> Project:
    return start(snap)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def shipped_snapshots() -> list[ProcessSnapshot]:
    """Snapshots of the shipped processes; their validity is tests/spec's business."""
    from cdmo_workflow.spec.loader import load_catalog

    catalog = load_catalog(ROOT)
    return [catalog.snapshot(pid) for pid in catalog.processes]
