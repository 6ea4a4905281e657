"""The plan agreed with the customer, through `cdmo`, on SQLite and PostgreSQL: baseline 0
from a plan file at start or with `plan set`, every bad file refused with file:line and
nothing changed, who may set it and until when, and the deep audit replay."""

from __future__ import annotations

import json

from tests.cli.budget_project import TEAM, Cdmo

GOOD = """\
schema: cdmo-workflow/v1
kind: plan
phases:
  build: {start: 2027-01-04, end: 2027-01-29}
  release: {start: 2027-02-01, end: 2027-02-26}
milestones:
  First GMP batch released: 2027-02-26
"""


def _file(cdmo: Cdmo, name: str, text: str) -> str:
    path = cdmo.tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _baseline(cdmo: Cdmo, code: str) -> dict[str, object]:
    forecast = json.loads(cdmo("project", "forecast", code, "--json"))
    return {k: forecast.get(k) for k in ("baseline_number", "baseline_completion")}


def test_the_agreed_plan_is_baseline_zero(cdmo: Cdmo) -> None:
    plan = _file(cdmo, "plan.yaml", GOOD)
    out = cdmo("project", "start", "PL-1", "--process", "costed", "--customer", "Helix Bio",
               *TEAM, "--by", "u-pm-41", "--plan", plan)  # fmt: skip
    assert "PL-1 started" in out
    assert _baseline(cdmo, "PL-1") == {
        "baseline_number": 0,
        "baseline_completion": "2027-02-26T23:59:59Z",
    }
    status = json.loads(cdmo("project", "status", "PL-1", "--json"))
    (baseline,) = status["baselines"]
    assert baseline["source"] == "plan"
    assert baseline["milestones"] == {"First GMP batch released": "2027-02-26T23:59:59Z"}
    cdmo("report", "PL-1", "--for", "customer", "--out", str(cdmo.tmp / "report"))
    html = (cdmo.tmp / "report" / "PL-1-customer.html").read_text(encoding="utf-8")
    assert "First GMP batch released" in html and "2027-02-26" in html

    # BX-1 started on the template's durations; the PM enters the agreed dates later
    before = _baseline(cdmo, "BX-1")
    assert before["baseline_completion"] != "2027-02-26T23:59:59Z"
    out = cdmo("plan", "set", "BX-1", plan, "--by", "u-pm-41")
    assert "plan of BX-1 agreed: baseline 0 ends 2027-02-26" in out
    assert _baseline(cdmo, "BX-1")["baseline_completion"] == "2027-02-26T23:59:59Z"
    cdmo("audit", "verify", "--deep")


def test_a_bad_plan_file_names_file_line_and_field_and_changes_nothing(cdmo: Cdmo) -> None:
    before = _baseline(cdmo, "BX-1")
    cases = {
        "unknown-phase.yaml": (
            GOOD.replace("  release:", "  relase:"),
            ":5:3: phases.relase: unknown phase 'relase' of process costed (did you mean "
            "'release'?)",
        ),
        "backwards.yaml": (
            GOOD.replace("end: 2027-01-29", "end: 2027-01-01"),
            ":4:35: phases.build.end: phase 'build' ends on 2027-01-01 before it starts on "
            "2027-01-04",
        ),
        "order.yaml": (
            GOOD.replace(
                "release: {start: 2027-02-01, end: 2027-02-26}",
                "release: {start: 2027-01-04, end: 2027-01-15}",
            ),
            ":5:37: phases.release.end: phase 'release' is planned to end on 2027-01-15, "
            "before its predecessor 'build' ends on 2027-01-29",
        ),
        "missing.yaml": (
            GOOD.replace("  release: {start: 2027-02-01, end: 2027-02-26}\n", ""),
            "phases: every phase of process costed needs its dates; not planned: release",
        ),
        "bad-date.yaml": (GOOD.replace("2027-01-29", "2027-13-29"), ":4:35: phases.build.end"),
        "extra-field.yaml": (
            GOOD + "owner: u-pm-41\n",
            ":8:1: owner: unknown field 'owner' (allowed: schema, kind, phases, milestones)",
        ),
    }
    for name, (text, expected) in cases.items():
        path = _file(cdmo, name, text)
        refused = cdmo.refusals()
        out = cdmo("plan", "set", "BX-1", path, "--by", "u-pm-41", code=1)
        assert expected in out, (name, out)
        assert name in out and "[rule: invalid-plan]" in out, out
        assert cdmo.refusals() == refused + 1, name  # exactly one audit row per refusal
    assert _baseline(cdmo, "BX-1") == before
    # at start, a bad plan starts nothing
    out = cdmo("project", "start", "PL-2", "--process", "costed", "--customer", "Helix Bio",
               *TEAM, "--by", "u-pm-41", "--plan", str(cdmo.tmp / "order.yaml"),
               code=1)  # fmt: skip
    assert "invalid-plan" in out
    assert cdmo.sql("SELECT count(*) FROM projects WHERE code = 'PL-2'")[0][0] == 0


def test_only_the_manager_sets_the_plan_and_only_before_a_decision(cdmo: Cdmo) -> None:
    plan = _file(cdmo, "plan.yaml", GOOD)
    out = cdmo("plan", "set", "BX-1", plan, "--by", "u-cust-88", code=1)
    assert "not-assigned-to-role" in out
    out = cdmo("plan", "set", "BX-1", plan, "--by", "u-pm-41", env={"CDMO_PASSWORD": "wrong-pw-12"},
               code=1)  # fmt: skip
    assert "authentication-failed" in out
    for d in ("d1", "d2"):
        cdmo("deliverable", "submit", "BX-1", "build", d, "--by", "u-mfg-05", "--evidence", "DMS-1")
    for user, role in (("u-qa-23", "qa"), ("u-cust-88", "customer")):
        cdmo("gate", "sign", "BX-1", "build-go", "--by", user, "--role", role,
             "--decision", "go", "--meaning", "approval")  # fmt: skip
    out = cdmo("plan", "set", "BX-1", plan, "--by", "u-pm-41", code=1)
    assert "gate 'build-go' was decided" in out and "plan-after-decision" in out
    cdmo("audit", "verify", "--deep")


def test_a_change_request_moves_the_agreed_plan_and_keeps_it(cdmo: Cdmo) -> None:
    cdmo("plan", "set", "BX-1", _file(cdmo, "plan.yaml", GOOD), "--by", "u-pm-41")
    cdmo("change", "propose", "BX-1", "--by", "u-pm-41", "--title", "Second batch",
         "--reason", "The sponsor needs more material", "--schedule-impact", "2w")  # fmt: skip
    cdmo("change", "submit", "BX-1", "CR-1", "--by", "u-pm-41")
    sign = ("--decision", "approve", "--meaning", "approval")
    cdmo("change", "sign", "BX-1", "CR-1", "--by", "u-cust-88", "--role", "customer", *sign)
    cdmo("change", "sign", "BX-1", "CR-1", "--by", "u-pm-41", "--role", "pm", *sign)
    forecast = json.loads(cdmo("project", "forecast", "BX-1", "--json"))
    assert forecast["baseline_number"] == 1
    assert forecast["baseline_completion"] == "2027-03-12T23:59:59Z"  # two weeks later
    plan, moved = forecast["baselines"]
    assert (plan["source"], plan["end"]) == ("plan", "2027-02-26T23:59:59Z")
    assert (moved["source"], moved["change"]) == ("change", "CR-1")
    assert moved["milestones"] == {"First GMP batch released": "2027-03-12T23:59:59Z"}
    out = cdmo("plan", "set", "BX-1", _file(cdmo, "plan.yaml", GOOD), "--by", "u-pm-41", code=1)
    assert "a change request re-baselined it" in out and "plan-after-decision" in out
    cdmo("audit", "verify", "--deep")


def test_a_replayed_key_an_over_long_name_and_markup(cdmo: Cdmo) -> None:
    plan = _file(cdmo, "plan.yaml", GOOD)
    key = ["--idempotency-key", "plan-BX-1-once"]
    cdmo("plan", "set", "BX-1", plan, "--by", "u-pm-41", *key)
    out = cdmo("plan", "set", "BX-1", plan, "--by", "u-pm-41", *key)
    assert "already applied" in out
    rows = cdmo.sql("SELECT count(*) FROM audit_events WHERE action = 'plan.set'")[0][0]
    assert rows == 1  # the replay wrote nothing

    long_name = _file(cdmo, "long.yaml", GOOD.replace("First GMP batch released", "x" * 201))
    refused = cdmo.refusals()
    out = cdmo("plan", "set", "BX-1", long_name, "--by", "u-pm-41", code=1)
    assert "milestone" in out and "200" in out, out
    assert cdmo.refusals() == refused + 1

    hostile = '<script>alert(1)</script> <img src=x onerror="alert(2)">'
    marked = _file(cdmo, "markup.yaml", GOOD.replace("First GMP batch released", f"'{hostile}'"))
    cdmo("project", "start", "PL-3", "--process", "costed", "--customer", "Helix Bio",
         *TEAM, "--by", "u-pm-41", "--plan", marked)  # fmt: skip
    cdmo("report", "PL-3", "--for", "customer", "--out", str(cdmo.tmp / "r3"))
    html = (cdmo.tmp / "r3" / "PL-3-customer.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
