"""Forecast numbers, computed by hand (pure: no database, a fixed ``today``).

The process is ``a (10d) → (b (20d) ∥ c (5d)) → d (10d)`` starting on day 0 (see builders).
Baseline: a 0–10, b 10–30, c 10–15, d 30–40; completion day 40; critical path a → b → d.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from cdmo_workflow.domain.forecast import baseline_of, forecast, overdue_gates
from cdmo_workflow.domain.plan import plan
from cdmo_workflow.domain.project import Project

from .builders import T0, day, finish, sign, snapshot, start, submit


def ends(fc: object) -> dict[str, tuple[float | None, float | None]]:
    """Forecast (start, end) of every phase, in days after T0."""

    def d(t: object) -> float | None:
        return None if t is None else (t - T0) / timedelta(days=1)  # type: ignore[operator]

    return {p.id: (d(p.start), d(p.end)) for p in fc.phases}  # type: ignore[attr-defined]


def test_at_start_the_forecast_is_the_baseline() -> None:
    project = start()
    fc = forecast(project, T0)
    assert ends(fc) == {"a": (0, 10), "b": (10, 30), "c": (10, 15), "d": (30, 40)}
    assert fc.completion == day(40) == fc.baseline_completion
    assert fc.slip_days == 0.0
    assert fc.critical_path == ("a", "b", "d")
    assert [p.critical for p in fc.phases] == [True, True, False, True]
    # c may end 15 days later before it moves the completion.
    assert fc.phase("c").slack_days == 15.0
    assert fc.phase("b").slack_days == 0.0
    assert fc.baseline_source == "stored"


def test_the_baseline_is_stored_at_start_and_survives_the_document() -> None:
    project = start()
    assert project.baseline == {
        "a": {"start": "2025-03-03T09:00:00Z", "end": "2025-03-13T09:00:00Z"},
        "b": {"start": "2025-03-13T09:00:00Z", "end": "2025-04-02T09:00:00Z"},
        "c": {"start": "2025-03-13T09:00:00Z", "end": "2025-03-18T09:00:00Z"},
        "d": {"start": "2025-04-02T09:00:00Z", "end": "2025-04-12T09:00:00Z"},
    }
    doc = project.to_dict()
    assert doc["baseline"] == project.baseline
    again = Project.from_dict(doc, project.snapshot)
    assert again.baseline == project.baseline
    # The baseline does not move when the project runs late.
    finish(project, "a", day(12))
    assert Project.from_dict(project.to_dict(), project.snapshot).baseline == again.baseline


def test_a_document_without_a_baseline_still_loads_and_gets_it_recomputed() -> None:
    project = start()
    finish(project, "a", day(12))
    doc = project.to_dict()
    del doc["baseline"], doc["baselines"]  # a document stored before baselines were kept
    old = Project.from_dict(doc, project.snapshot)
    assert old.baseline is None
    fc = forecast(old, day(12))
    assert fc.baseline_source == "recomputed"
    assert fc.to_dict()["phases"] == forecast(project, day(12)).to_dict()["phases"]


def test_a_late_gate_pushes_every_successor() -> None:
    project = start()
    finish(project, "a", day(12))  # two days late
    fc = forecast(project, day(12))
    assert ends(fc) == {"a": (0, 12), "b": (12, 32), "c": (12, 17), "d": (32, 42)}
    a = fc.phase("a")
    assert (a.actual_start, a.actual_end) == (T0, day(12))
    assert fc.phase("b").actual_start == day(12) and fc.phase("b").actual_end is None
    assert fc.phase("d").actual_start is None
    assert fc.slip_days == 2.0
    assert fc.phase("a").slip_days == 2.0
    assert fc.phase("c").slip_days == 2.0  # baseline end day 15, forecast day 17
    assert fc.critical_path == ("a", "b", "d")


def test_active_phases_end_no_earlier_than_today() -> None:
    project = start()
    fc = forecast(project, day(14))  # a is 4 days overdue
    assert ends(fc)["a"] == (0, 14)
    assert fc.phase("a").overdue and fc.phase("a").planned_end == day(10)
    assert ends(fc)["d"] == (34, 44)
    assert fc.slip_days == 4.0


def test_parallel_branches_the_longer_one_is_critical_until_the_shorter_overruns() -> None:
    project = start()
    finish(project, "a", day(10))
    finish(project, "b", day(25))  # five days early
    fc = forecast(project, day(25))
    # c (planned end 15) is already overdue at day 25: it ends today at the earliest.
    assert ends(fc) == {"a": (0, 10), "b": (10, 25), "c": (10, 25), "d": (25, 35)}
    assert fc.slip_days == -5.0
    fc = forecast(project, day(33))
    assert ends(fc) == {"a": (0, 10), "b": (10, 25), "c": (10, 33), "d": (33, 43)}
    assert fc.critical_path == ("a", "c", "d")
    assert fc.phase("b").slack_days is None  # completed: no float left to use
    assert fc.phase("c").slack_days == 0.0
    assert fc.slip_days == 3.0
    assert fc.phase("d").slip_days == 3.0


def test_a_recycle_reopens_the_target_and_pushes_its_successors() -> None:
    project = start()
    finish(project, "a", day(10))
    finish(project, "c", day(15))
    finish(project, "b", day(30))
    submit(project, "d", day(33))
    sign(project, "d", day(35), "go", qa_decision="recycle")  # the gate recycles to b
    assert project.phases["b"].state.value == "active"
    assert project.phases["d"].state.value == "pending"
    fc = forecast(project, day(35))
    assert ends(fc) == {"a": (0, 10), "b": (35, 55), "c": (10, 15), "d": (55, 65)}
    assert fc.critical_path == ("a", "b", "d")
    assert fc.slip_days == 25.0
    b = fc.phase("b")
    assert b.cycle == 2
    assert [(r.cycle, r.start, r.end, r.outcome) for r in b.runs] == [
        (1, day(10), day(30), "go, recycled"),
        (2, day(35), None, None),
    ]
    d = fc.phase("d")
    assert [(r.cycle, r.start, r.end, r.outcome) for r in d.runs] == [
        (1, day(30), day(35), "recycled")
    ]
    assert d.actual_start is None  # pending again


def test_a_project_on_hold_pushes_active_work_by_the_time_on_hold() -> None:
    project = start()
    finish(project, "a", day(10))
    project.put_on_hold("pat", "sponsor funding review", day(20))
    fc = forecast(project, day(26))  # six days on hold so far
    # b: planned end 30 was ahead of the hold, so its remaining work waits: 30 + 6 = 36.
    # c: planned end 15 had passed before the hold; it ends no earlier than today (26).
    assert ends(fc) == {"a": (0, 10), "b": (10, 36), "c": (10, 26), "d": (36, 46)}
    assert fc.on_hold_since == day(20)
    assert fc.slip_days == 6.0
    # On the day of the hold nothing has moved yet.
    assert ends(forecast(project, day(20)))["d"] == (30, 40)
    # After the resume the pushed plan is no longer applied; today catches up instead.
    project.resume("pat", "funding confirmed", day(26))
    assert ends(forecast(project, day(26)))["b"] == (10, 30)


def test_a_gate_decided_hold_counts_as_a_project_hold() -> None:
    project = start()
    finish(project, "a", day(8), "go", qa_decision="hold")  # gate g-a decides hold on day 8
    assert project.state.value == "on-hold"
    fc = forecast(project, day(18))
    # a's planned end (10) was 2 days after the hold; 10 days on hold → a ends on day 20.
    assert ends(fc)["a"] == (0, 20)
    assert ends(fc)["b"] == (20, 40)
    assert ends(fc)["d"] == (40, 50)
    assert fc.slip_days == 10.0


def test_business_days_and_phases_without_duration() -> None:
    snap = snapshot(
        {"a": "15bd", "c": None},
        extra_phases=[
            {
                "id": "e",
                "name": "Phase E",
                "owner": "dev",
                "after": ["d"],
                "deliverables": [],
                "gate": "g-e",
            }
        ],
    )
    # 15 business days from Monday 3 March = Monday 24 March (21 calendar days).
    p = plan(snap.process, T0)
    assert p["a"] == (T0, day(21))
    assert p["c"] == (day(21), day(21))  # no duration counts as 0 days
    assert p["e"] == (day(51), day(51))
    project = start(snap)
    fc = forecast(project, T0)
    assert fc.completion == day(51)
    assert fc.phase("a").planned_days == 21.0
    assert fc.phase("c").planned_days == 0.0
    assert fc.critical_path == ("a", "b", "d", "e")
    assert baseline_of(snap.process, T0)["e"] == {
        "start": "2025-04-23T09:00:00Z",
        "end": "2025-04-23T09:00:00Z",
    }


def test_a_completed_project_uses_actual_dates() -> None:
    project = start()
    finish(project, "a", day(9))
    finish(project, "c", day(11))
    finish(project, "b", day(27))
    finish(project, "d", day(38))
    assert project.state.value == "completed"
    fc = forecast(project, day(60))
    assert ends(fc) == {"a": (0, 9), "b": (9, 27), "c": (9, 11), "d": (27, 38)}
    assert fc.completion == day(38) == fc.ended_at
    assert fc.slip_days == -2.0
    assert fc.critical_path == ("a", "b", "d")


def test_a_killed_project_has_no_completion() -> None:
    project = start()
    finish(project, "a", day(10))
    finish(project, "c", day(14), "kill")
    fc = forecast(project, day(20))
    assert fc.completion is None and fc.slip_days is None
    assert fc.ended_at == day(14)
    assert ends(fc) == {"a": (0, 10), "b": (10, 14), "c": (10, 14), "d": (None, None)}
    assert fc.critical_path == ()


def test_conditional_go_runs_are_kept() -> None:
    project = start()
    finish(project, "a", day(10), "conditional-go", conditions=["close CAPA-1"])
    fc = forecast(project, day(10))
    assert [r.outcome for r in fc.phase("a").runs] == ["conditional-go"]


def test_overdue_gates_follow_the_sla_from_the_opening() -> None:
    project = start(snapshot(sla="5d"))
    submit(project, "a", day(3))  # gate g-a opens on day 3, due day 8
    assert overdue_gates(project, day(8)) == []
    late = overdue_gates(project, day(10))
    assert [(g["gate"], g["days_overdue"], g["due"]) for g in late] == [
        ("g-a", 2.0, "2025-03-11T09:00:00Z")
    ]
    assert late[0]["missing"] == [{"role": "pm", "needed": 1}, {"role": "qa", "needed": 1}]


def test_the_json_document_names_every_date() -> None:
    project = start()
    finish(project, "a", day(12))
    doc = forecast(project, day(12)).to_dict()
    assert doc["completion"] == "2025-04-14T09:00:00Z"
    assert doc["baseline_completion"] == "2025-04-12T09:00:00Z"
    assert doc["critical_path"] == ["a", "b", "d"]
    a = doc["phases"][0]
    assert a["baseline"] == {"start": "2025-03-03T09:00:00Z", "end": "2025-03-13T09:00:00Z"}
    assert a["actual"] == {"start": "2025-03-03T09:00:00Z", "end": "2025-03-15T09:00:00Z"}
    assert a["forecast"] == a["actual"]
    assert a["slip_days"] == 2.0


@pytest.mark.parametrize("shipped", ["api-clinical-program", "tech-transfer-engagement"])
def test_shipped_processes_have_a_plan(shipped: str) -> None:
    from pathlib import Path

    from cdmo_workflow.spec.loader import load_catalog

    snap = load_catalog(Path(__file__).resolve().parents[2]).snapshot(shipped)
    p = plan(snap.process, T0)
    assert set(p) == {ph.id for ph in snap.process.phases}
    assert all(e >= s for s, e in p.values())


def test_the_budget_in_markdown_for_the_project_artifact() -> None:
    from cdmo_workflow.domain import budget
    from cdmo_workflow.reports.markdown import budget_markdown

    project = start()
    assert budget_markdown(project) == ""  # no currency, no budget
    budget.open_budget(project, "CHF")
    budget.set_quote(project, "a", "1000", "pat", day(1))
    line = budget.cost_line(project, "a", "actual", "1200.5", "INV-1")
    budget.add_cost(project, line, "pat", day(2), {})
    text = budget_markdown(project)
    assert "### Budget (CHF)" in text
    assert "| Phase A (overrun) | 1,000.00 | 0.00 | 1,200.50 | -200.50 | 120.1 % |" in text
    assert "| **Total** (overrun) | 1,000.00 | 0.00 | 1,200.50 | -200.50 | 120.1 % |" in text
