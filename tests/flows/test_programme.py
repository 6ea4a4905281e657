"""Whole programmes driven through Prefect: every sign-off is a resume of a gate-review run,
sent the way the UI sends it (``resume_flow_run`` with the form's values)."""

from __future__ import annotations

import json

import pytest

from cdmo_workflow import service

from .conftest import API_TEAM, MINI_TEAM, PASSWORD, WRONG_PASSWORD, Orchestra, submit_all, wait_for

pytestmark = pytest.mark.slow


def _no_password_in_prefect(orch: Orchestra, run_ids: set, *secrets: str) -> None:
    """No run input of these runs holds a password (they are deleted once read)."""
    seen = 0
    with orch.client() as c:
        for run_id in run_ids:
            for item in c.filter_flow_run_input(run_id, "", 1000, set()):
                seen += 1
                for secret in secrets:
                    assert secret not in item.value, f"{item.key} of {run_id} holds a password"
    assert seen >= 2 * len(run_ids)  # the forms' schemas and descriptions are still there


def test_mini_programme_through_the_ui(orchestra: Orchestra) -> None:
    orch = orchestra
    ctx = orch.ctx()
    code = orch.new_code("MINI")
    service.start_project(
        ctx, code, "mini-programme", "Helix Bio", MINI_TEAM, by="pm1", password=PASSWORD
    )
    assert orch.gate_runs(code) == []  # nothing open yet, no run
    submit_all(orch, code, "design")

    # The open gate is a waiting run of the gate-review deployment, named and tagged.
    run = orch.wait_waiting(code, "design-review")
    assert run.name == f"{code} · Design review"
    assert {f"project:{code}", "customer:Helix Bio", "gate:design-review"} <= set(run.tags)
    assert run.state.name == "Suspended"
    schema = orch.schema(run)
    props = schema["properties"]
    assert [n for n, _ in sorted(props.items(), key=lambda kv: kv[1]["position"])] == [
        "user", "role", "decision", "meaning", "comment", "conditions", "on_behalf_of",
        "password",
    ]  # fmt: skip
    # The signer must choose: role, decision and meaning are required, with no default.
    assert {"user", "role", "decision", "meaning", "password"} <= set(schema["required"])
    assert not any("default" in props[n] for n in ("role", "decision", "meaning"))
    assert set(_enum(schema, "role")) == {"pm", "customer"}
    assert _enum(schema, "decision") == ["go", "conditional-go", "hold", "kill"]
    assert props["password"]["format"] == "password"
    text = orch.description(run)
    assert "Specification" in text and "DMS-design-spec" in text
    assert "Paula Manager" in text and "Carl Sponsor" in text  # who is still missing

    # A refused sign-off (wrong password) never fails the run: it waits again, saying why.
    orch.sign_ui(code, "design-review", "pm1", "pm", password=WRONG_PASSWORD)
    run = orch.wait_waiting(code, "design-review")
    text = orch.description(run)
    assert "refused" in text and "authentication-failed" in text
    assert set(_enum(orch.schema(run), "role")) == {"pm", "customer"}
    # A refused sign-off for a role the user does not hold.
    orch.sign_ui(code, "design-review", "cust1", "pm")
    run = orch.wait_waiting(code, "design-review")
    assert "not-assigned-to-role" in orch.description(run)

    # Conditional go: pm signs with a condition, then the customer; roles shrink as they sign.
    orch.sign_ui(
        code, "design-review", "pm1", "pm", "conditional-go",
        conditions=["Confirm the supplier audit"], comment="ok with one condition",
    )  # fmt: skip
    run = orch.wait_waiting(code, "design-review")
    assert _enum(orch.schema(run), "role") == ["customer"]
    text = orch.description(run)
    assert "Paula Manager" in text and "conditional-go" in text and "approval" in text
    orch.sign_ui(code, "design-review", "cust1", "customer")
    g = wait_for(lambda: _decided(orch, code, "design-review"), 60, "design-review decided")
    assert g["outcome"] == "conditional-go"
    first = wait_for(lambda: _final(orch, code, "design-review"), 60, "design run completed")
    assert first.state.is_completed()

    # Build: the condition keeps the gate shut until it is closed.
    submit_all(orch, code, "build")
    assert orch.gate(code, "build-complete")["state"] == "waiting"
    cond = orch.status(code)["conditions"][0]["id"]
    service.close_condition(ctx, code, cond, "pm1", "AUDIT-42", password=PASSWORD)
    assert orch.gate(code, "build-complete")["state"] == "waiting"  # closed, not accepted
    service.accept_condition(ctx, code, cond, "qa1", password=PASSWORD)  # QA verifies it
    orch.wait_waiting(code, "build-complete")

    # Recycle by a QA veto: the phase restarts, the run of review 1 finishes.
    orch.sign_ui(code, "build-complete", "qa1", "qa", "recycle", meaning="review")
    wait_for(lambda: orch.status(code)["phases"][1]["cycle"] == 2, 60, "build recycled")
    wait_for(lambda: _final(orch, code, "build-complete"), 60, "review 1 run completed")
    submit_all(orch, code, "build")
    assert orch.gate(code, "build-complete")["review"] == 2
    for user, role in [("qa2", "qa"), ("qa3", "qa"), ("cust1", "customer")]:
        orch.sign_ui(code, "build-complete", user, role)
    s = wait_for(lambda: (st := orch.status(code))["state"] == "completed" and st, 60, "completion")
    assert {p["state"] for p in s["phases"]} == {"completed"}
    runs = orch.gate_runs(code)
    wait_for(lambda: all(r.state.is_final() for r in orch.gate_runs(code)), 60, "runs final")
    assert all(r.state.is_completed() for r in orch.gate_runs(code))
    assert len(runs) == 3  # one run per review: design #1, build #1, build #2

    # The audit trail holds the refusals; no password stayed in Prefect's database.
    rows = json.loads(service.export_audit(orch.plain(), code, "json"))
    refused = {r["rule"] for r in rows if r["outcome"] == "refused"}
    assert {"authentication-failed", "not-assigned-to-role"} <= refused
    _no_password_in_prefect(orch, {r.id for r in runs}, PASSWORD, WRONG_PASSWORD)


def test_shipped_programme_first_two_gates(orchestra: Orchestra) -> None:
    orch = orchestra
    ctx = orch.ctx()
    code = orch.new_code("API")
    service.start_project(
        ctx, code, "api-clinical-program", "Orion Pharma", API_TEAM, by="pm1", password=PASSWORD
    )
    submit_all(orch, code, "scoping")
    run = orch.wait_waiting(code, "scoping-go")
    assert run.name == f"{code} · Go to process development"
    assert set(_enum(orch.schema(run), "role")) == {"pm", "customer", "site-head"}
    for user, role in [("pm1", "pm"), ("cust1", "customer"), ("site1", "site-head")]:
        orch.sign_ui(code, "scoping-go", user, role)
    wait_for(lambda: _decided(orch, code, "scoping-go"), 60, "scoping-go decided")
    submit_all(orch, code, "process-development")
    orch.wait_waiting(code, "development-complete")
    orch.sign_ui(code, "development-complete", "pd1", "pd")
    orch.sign_ui(
        code, "development-complete", "qc1", "qc", "conditional-go",
        conditions=["Validate the impurity method before GMP use"],
    )  # fmt: skip
    orch.sign_ui(code, "development-complete", "cust1", "customer")
    g = wait_for(lambda: _decided(orch, code, "development-complete"), 60, "decided")
    assert g["outcome"] == "conditional-go"
    phases = {p["id"]: p["state"] for p in orch.status(code)["phases"]}
    assert phases["tech-transfer"] == "active" and phases["analytical-transfer"] == "active"


def _enum(schema: dict, field: str) -> list[str]:
    prop = schema["properties"][field]
    if "enum" in prop:
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
    if ref:
        d = schema["definitions" if "definitions" in schema else "$defs"][ref.rsplit("/", 1)[1]]
        return list(d.get("enum") or [d.get("const")])
    raise AssertionError(f"{field} is not a select: {prop}")


def _decided(orch: Orchestra, code: str, gate: str) -> dict | None:
    g = orch.gate(code, gate)
    return g if g["state"] == "decided" or g["outcome"] else None


def _final(orch: Orchestra, code: str, gate: str):
    runs = sorted(orch.gate_runs(code, gate), key=lambda r: r.created)
    return runs[0] if runs and runs[0].state.is_final() else None
