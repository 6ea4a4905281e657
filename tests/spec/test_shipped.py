"""Every shipped definition file is valid, and the shipped programme has the promised shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdmo_workflow.spec import graph
from cdmo_workflow.spec.loader import load_catalog, validate_paths
from cdmo_workflow.spec.models import Decision

from .conftest import REPO

SHIPPED = sorted([*(REPO / "definitions").glob("*.yaml"), *(REPO / "gates").glob("*.yaml")])


def test_there_are_shipped_files() -> None:
    assert len([p for p in SHIPPED if p.parent.name == "definitions"]) >= 2
    assert len([p for p in SHIPPED if p.parent.name == "gates"]) >= 7


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_file_is_valid_without_warnings(path: Path) -> None:
    findings = validate_paths([path], base=REPO)
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_file_names_its_json_schema(path: Path) -> None:
    kind = "process" if path.parent.name == "definitions" else "gate"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../schemas/{kind}.schema.json"


def test_whole_tree_is_valid() -> None:
    assert validate_paths([REPO], base=REPO) == []


def test_api_programme_shape() -> None:
    catalog = load_catalog(REPO)
    proc = catalog.processes["api-clinical-program"]
    g = graph.graph_of(proc)
    assert graph.topological_order(g) == [
        "scoping",
        "process-development",
        "tech-transfer",
        "analytical-transfer",
        "clinical-supply",
        "process-validation",
        "commercial-readiness",
    ]
    assert graph.start_phases(g) == ["scoping"]
    assert graph.final_phases(g) == ["commercial-readiness"]
    assert set(g["clinical-supply"]) == {"tech-transfer", "analytical-transfer"}
    for role in ("pm", "qa", "qc", "mfg", "pd", "ra", "customer", "site-head"):
        assert role in proc.roles
    gates = catalog.gates_of("api-clinical-program")
    assert set(gates) == {
        "scoping-go",
        "development-complete",
        "gmp-readiness",
        "method-transfer",
        "clinical-release",
        "ppq-complete",
        "commercial-go",
    }
    assert Decision.CONDITIONAL_GO not in gates["commercial-go"].decisions
    # The demo walks the first gate: deliverables of pm and customer, small quotas.
    scoping = proc.phases[0]
    assert {d.owner for d in scoping.deliverables} <= {"pm", "customer"}
    assert {(q.role, q.min) for q in gates["scoping-go"].signoffs} == {
        ("pm", 1),
        ("customer", 1),
        ("site-head", 1),
    }
    # QA is independent and holds a veto at GMP gates; QA release cannot be delegated.
    for gid in ("gmp-readiness", "clinical-release", "ppq-complete"):
        qa = [q for q in gates[gid].signoffs if q.role == "qa"]
        assert qa and qa[0].independent and qa[0].veto
    release_qa = next(q for q in gates["clinical-release"].signoffs if q.role == "qa")
    assert release_qa.delegable is False
    for gate in gates.values():
        assert gate.sla is not None
        assert gate.sla.remind_every == "2d"
        assert gate.sla.escalate_to == ["site-head"]
        assert gate.notify


def test_second_process_reuses_gates() -> None:
    catalog = load_catalog(REPO)
    a = set(catalog.gates_of("api-clinical-program"))
    b = set(catalog.gates_of("tech-transfer-engagement"))
    assert {"gmp-readiness", "method-transfer"} <= a & b
    proc = catalog.processes["tech-transfer-engagement"]
    g = graph.graph_of(proc)
    assert graph.start_phases(g) == ["tech-transfer", "analytical-transfer"]
    final_gate = catalog.gates[proc.phases[-1].gate]
    assert Decision.CONDITIONAL_GO not in final_gate.decisions
