"""Random step sequences never crash the simulator: each scenario either runs (every step
accepted, refused with a rule, advanced or checked) or is refused with findings."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cdmo_workflow.simulation import Outcome, ScenarioRefused, prepare, simulate
from cdmo_workflow.spec.errors import Finding
from cdmo_workflow.spec.loader import load_catalog

from .conftest import REPO

CATALOG = load_catalog(REPO)
PROCESS = CATALOG.processes["api-clinical-program"]
GATES = CATALOG.gates_of("api-clinical-program")
TEAM = {
    "pm": ["paula"],
    "customer": ["carl"],
    "site-head": ["sita"],
    "pd": ["pedro"],
    "qc": ["quinn"],
    "mfg": ["mia"],
    "qa": ["quentin", "qiana"],
    "ra": ["rae"],
}
USERS = [u for users in TEAM.values() for u in users]
ODD = st.sampled_from(["", "zed", "C99", "x" * 600, "[b]x[/b]", "\x1b[31m"])

user = st.sampled_from(USERS)
phase = st.sampled_from([p.id for p in PROCESS.phases])
gate = st.sampled_from(list(GATES))
role = st.sampled_from(list(PROCESS.roles))
deliverable = st.sampled_from([(p.id, d.id) for p in PROCESS.phases for d in p.deliverables])
check = st.sampled_from([(g.id, c.id) for g in GATES.values() for c in g.checks])
decision = st.sampled_from(["go", "go", "go", "conditional-go", "hold", "recycle", "kill"])
meaning = st.sampled_from(["approval", "review", "responsibility", "authorship", "nod"])
text = st.text(max_size=30)
duration = st.sampled_from(["1h", "2d", "3bd", "1w", "P1D", "13w", "PT15M"])


def _step(kind: str, args: dict[str, Any] | str) -> dict[str, Any]:
    return {kind: args}


refusal_pair = st.builds(
    lambda u, r: [
        _step("submit", {"phase": "scoping", "deliverable": "work-order", "by": u}),
        _step("expect", {"refused": r}),
    ],
    user,
    st.sampled_from(["not-assigned-to-role", "phase-not-active", "project-not-active"]),
)

scoping_signature = st.builds(
    lambda who, d, c: _step(
        "sign",
        {"gate": "scoping-go", "by": who[0], "role": who[1], "decision": d, "meaning": "approval"}
        | ({"comment": c} if c else {}),
    ),
    st.sampled_from([("paula", "pm"), ("carl", "customer"), ("sita", "site-head")]),
    decision,
    st.none() | st.just("Why not"),
)

steps = st.one_of(
    scoping_signature,
    scoping_signature,
    st.builds(
        lambda pd, u, e: _step(
            "submit", {"phase": pd[0], "deliverable": pd[1], "by": u, "evidence": e}
        ),
        deliverable,
        user,
        st.none() | text,
    ),
    st.builds(
        lambda gc, u: _step("confirm", {"gate": gc[0], "check": gc[1], "by": u}), check, user
    ),
    st.builds(
        lambda g, u, r, d, m, c, k: _step(
            "sign",
            {
                "gate": g,
                "by": u,
                "role": r,
                "decision": d,
                "meaning": m,
                "comment": c,
                "conditions": k,
            },
        ),
        gate,
        user,
        role,
        decision,
        meaning,
        st.none() | text,
        st.lists(text, max_size=2),
    ),
    st.builds(
        lambda c, u: _step("close", {"condition": c, "by": u}),
        st.sampled_from(["C1", "C2", "C3", "C;1"]),
        user,
    ),
    st.builds(lambda u, r: _step("hold", {"by": u, "reason": r or "r"}), user, text),
    st.builds(lambda u, r: _step("resume", {"by": u, "reason": r or "r"}), user, text),
    st.builds(lambda d: _step("advance", d), duration),
    st.builds(
        lambda r, s, g: _step("expect", {"refused": r, "project": s, "gates": g}),
        st.none(),
        st.sampled_from(["active", "on-hold", "completed"]),
        st.dictionaries(gate, st.sampled_from(["open", "go", "waiting"]), max_size=2),
    ),
)

# One malformed step (an unknown step, user, role, phase, gate or duration) spoils a scenario.
odd_steps = st.one_of(
    st.builds(lambda k: {k: {}}, st.sampled_from(["sumbit", "approve"])),
    st.builds(
        lambda u, p: _step("submit", {"phase": p, "deliverable": "feasibility", "by": u}),
        ODD | user,
        ODD | phase,
    ),
    st.builds(
        lambda g, r: _step(
            "sign", {"gate": g, "by": "paula", "role": r, "decision": "go", "meaning": "approval"}
        ),
        ODD | gate,
        st.sampled_from(["nobody", "pm"]),
    ),
    st.builds(lambda d: _step("advance", d), st.sampled_from(["0d", "soon", "-1d", "5000d"])),
    st.builds(
        lambda d: _step(
            "sign",
            {
                "gate": "scoping-go",
                "by": "paula",
                "role": "pm",
                "decision": d,
                "meaning": "approval",
            },
        ),
        st.sampled_from(["maybe", "GO"]),
    ),
    # an expected refusal right after an advance or an expectation, or first of all
    st.just(_step("expect", {"refused": "quota-met"})),
)

# Steps that move a project along, so random runs reach gates, decisions, holds and recycles.
SCOPING = [
    _step("submit", {"phase": "scoping", "deliverable": d.id, "by": TEAM[d.owner][0]})
    for d in PROCESS.phases[0].deliverables
] + [_step("confirm", {"gate": "scoping-go", "check": "capacity-confirmed", "by": "paula"})]


def _run(doc: dict[str, Any]) -> Outcome | list[Finding]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "definitions" / "scenarios" / "random.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        ready = prepare(path, CATALOG, base=Path(tmp))
        if isinstance(ready, list):
            return ready
        try:
            return simulate(ready.file, ready.scenario, ready.snapshot)
        except ScenarioRefused as exc:
            return exc.findings


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.booleans(),
    st.lists(steps | refusal_pair, min_size=1, max_size=25),
    st.none() | st.tuples(st.integers(min_value=0, max_value=25), odd_steps),
)
def test_random_steps_never_crash(
    open_first_gate: bool, random_steps: list[Any], odd: tuple[int, Any] | None
) -> None:
    random_steps = [
        s for item in random_steps for s in (item if isinstance(item, list) else [item])
    ]
    if odd is not None:
        random_steps.insert(odd[0], odd[1])
    doc = {
        "schema": "cdmo-workflow/v1",
        "kind": "scenario",
        "process": "api-clinical-program",
        "start": "2026-01-05T09:00:00Z",
        "team": TEAM,
        "steps": (SCOPING if open_first_gate else []) + random_steps,
    }
    result = _run(doc)
    event("malformed" if isinstance(result, list) else "ran")
    if isinstance(result, list):
        assert result and all(f.is_error or f.severity == "warning" for f in result)
        assert all(f.rule and f.line >= 1 and f.column >= 1 for f in result)
        assert any(f.is_error for f in result)
        return
    assert len(result.steps) == len(doc["steps"]) + 1
    event(f"project {result.final['project']}")
    event(f"scoping-go {result.final['gates']['scoping-go']}")
    for record in result.steps:
        if record.outcome == "refused":
            event(f"refused {record.rule}")
        assert record.outcome in ("started", "accepted", "refused", "advanced", "checked")
        if record.outcome == "refused":
            assert record.rule and record.message
    for failure in result.failures:
        assert failure.line >= 1 and failure.step >= 1
