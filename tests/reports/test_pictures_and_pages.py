"""Pictures, HTML pages and Markdown rendered from plain projects (no database).

The pictures are checked as a user would look at them: every colour and mark is in the
legend, labels do not overlap, and the text in the SVG is real text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import pytest

from cdmo_workflow.domain.forecast import forecast
from cdmo_workflow.domain.project import Project
from cdmo_workflow.reports import charts, forecast_markdown
from cdmo_workflow.reports.html import render_portfolio, render_project

from .builders import day, finish, sign, snapshot, start, submit

TODAY = day(42)


def history_project() -> Project:
    """a: conditional go (its condition accepted on day 15); b, c: go; d: recycled to b; b
    passes again; d's gate is open."""
    project = start(snapshot(sla="3d"))
    finish(
        project,
        "a",
        day(11),
        qa_decision="conditional-go",
        conditions=["Close CAPA-12 before B's gate"],
    )
    (cond,) = project.open_conditions()  # one condition, shared by b and c
    project.close_condition(cond.id, "dev1", "DMS-CAPA-12", day(15))  # its owner (dev)
    project.accept_condition(cond.id, "qa1", day(15))  # the raiser's role verifies it
    finish(project, "c", day(16))
    finish(project, "b", day(30))
    submit(project, "d", day(33))
    sign(project, "d", day(35), "go", qa_decision="recycle")
    submit(project, "b", day(37))  # gate g-b opens again on day 37, due day 40
    sign(project, "b", day(38))  # go
    submit(project, "d", day(39))  # gate g-d open since day 39 (due day 42): not yet late
    return project


def overdue_project() -> Project:
    project = start(snapshot(sla="3d"))
    submit(project, "a", day(5))  # gate g-a open since day 5, due day 8: late on day 42
    return project


def texts(items: Iterable[Any]) -> list[str]:
    return [t.get_text() for t in items]


def legend_labels(fig: Any) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


def boxes_overlap(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def assert_no_overlaps(fig: Any) -> None:
    """Tick labels, annotations, titles and the legend never overlap each other."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    labelled: list[tuple[str, Any]] = []
    for t in [*ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts]:
        if t.get_text() and t.get_visible():
            labelled.append((t.get_text(), t.get_window_extent(renderer)))
    for t in [ax.title, ax._left_title, fig._suptitle]:  # type: ignore[attr-defined]
        if t is not None and t.get_text():
            labelled.append((t.get_text(), t.get_window_extent(renderer)))
    for lg in fig.legends:
        labelled.append(("<legend>", lg.get_window_extent(renderer)))
    for i, (ta, a) in enumerate(labelled):
        for tb, b in labelled[i + 1 :]:
            assert not boxes_overlap(a, b), f"{ta!r} overlaps {tb!r}"
    width, height = fig.bbox.width, fig.bbox.height
    for text, box in labelled:  # nothing is cut off at the picture's edges
        assert box.x0 >= -1 and box.y0 >= -1, text
        assert box.x1 <= width + 1 and box.y1 <= height + 1, text


def test_timeline_shows_every_series_with_a_legend() -> None:
    project = history_project()
    fc = forecast(project, TODAY)
    fig = charts.timeline_figure(project, fc)
    labels = legend_labels(fig)
    for expected in (
        "Baseline (agreed plan)",
        "Forecast",
        "Forecast, critical path",
        "Actual",
        "Actual, still running",
        "Run ended by recycle",
        "Today",
        "Gate: go",
        "Gate: conditional go",
        "Gate: recycle",
        "Gate open",
    ):
        assert expected in labels
    assert "Gate: kill" not in labels  # only outcomes that occur are explained
    ax = fig.axes[0]
    ylabels = ["Phase A", "Phase B  (cycle 2)", "Phase C", "Phase D  (cycle 2)"]
    assert texts(ax.get_yticklabels()) == ylabels
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == [ylabels[0], ylabels[1], ylabels[3]]  # the critical path a → b → d
    # The forecast end of every phase still to finish is written next to its bar.
    assert any(t.startswith(f"{fc.phase('d').end:%d %b}") for t in texts(ax.texts))
    assert f"today {TODAY:%d %b}" in texts(ax.texts)
    assert_no_overlaps(fig)


def test_timeline_marks_a_gate_past_its_sla() -> None:
    project = overdue_project()
    fig = charts.timeline_figure(project, forecast(project, TODAY))
    labels = legend_labels(fig)
    assert "Gate open, past its SLA" in labels and "SLA deadline" in labels
    assert_no_overlaps(fig)


def test_timeline_files_are_png_and_svg_with_real_text(tmp_path: Any) -> None:
    project = history_project()
    rendered = charts.timeline(project, forecast(project, TODAY))
    files = rendered.write(tmp_path, "t")
    assert files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = files["svg"].read_text()
    assert svg.startswith("<?xml")
    assert rendered.inline_svg.startswith("<svg")
    for name in ("Phase A", "Phase D", "Baseline (agreed plan)", "Gate: recycle"):
        assert name in svg
    # The same data gives the same picture (stable ids, no timestamp).
    assert charts.timeline(project, forecast(project, TODAY)).svg == rendered.svg


@pytest.mark.parametrize("state", ["completed", "killed", "on-hold"])
def test_timeline_of_finished_or_held_projects(state: str) -> None:
    project = start()
    finish(project, "a", day(10))
    if state == "completed":
        for p in ("b", "c", "d"):
            finish(project, p, day(40))
    elif state == "killed":
        finish(project, "c", day(14), "kill")
    else:
        project.put_on_hold("pat", "sponsor review", day(20))
    fig = charts.timeline_figure(project, forecast(project, TODAY))
    subtitle = fig.axes[0].get_title(loc="left")
    expected = {"completed": "Completed", "killed": "Killed", "on-hold": "on hold since"}[state]
    assert expected in subtitle
    assert_no_overlaps(fig)
    page = html.unescape(render_project(project, TODAY, timeline_svg="<svg></svg>"))
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    expected_page = {
        "completed": "Completed 2025-04-12",
        "killed": "Killed on 2025-03-17 09:00:00 UTC",
        "on-hold": "On hold since 2025-03-23 09:00:00 UTC by pat: sponsor review",
    }[state]
    assert expected_page in words
    md = forecast_markdown(project, TODAY)
    assert {"completed": "Completed on", "killed": "Killed on", "on-hold": "On hold since"}[
        state
    ] in md


def many_projects(n: int) -> list[Project]:
    out = []
    for i in range(n):
        snap = snapshot(sla="3d")
        project, _ = Project.start(
            f"P-{i:04d}", f"Customer {i}", snap, {"pm": ["pat"], "dev": ["dev1"], "qa": ["qa1"]},
            "pat", day(i % 30),
        )  # fmt: skip
        if i % 7 == 0:
            submit(project, "a", day(i % 30 + 5))  # a gate that will be overdue
        if i % 11 == 0:
            project.put_on_hold("pat", "paused", day(35))
        out.append(project)
    return out


def test_portfolio_picture_shows_plan_forecast_and_overdue_gates() -> None:
    projects = [history_project(), overdue_project()]
    projects[1].code = "P-LATE"
    rows = charts.portfolio_rows(projects, TODAY)
    fig = charts.portfolio_figure(rows, TODAY, total=len(rows))
    labels = legend_labels(fig)
    for expected in (
        "Baseline: start to planned completion",
        "Forecast, late",
        "Current phase (start to forecast end)",
        "Overdue gate (SLA deadline)",
        "Today",
    ):
        assert expected in labels
    ax = fig.axes[0]
    assert texts(ax.get_yticklabels()) == ["F-001 · Acme Pharma", "P-LATE · Acme Pharma"] or sorted(
        texts(ax.get_yticklabels())
    ) == ["F-001 · Acme Pharma", "P-LATE · Acme Pharma"]
    notes = texts(ax.texts)
    assert any("1 gate overdue" in t and t.startswith("Phase A") for t in notes)
    assert_no_overlaps(fig)


def test_a_large_portfolio_shows_the_most_urgent_projects() -> None:
    projects = many_projects(120)
    rows = charts.portfolio_rows(projects, TODAY)
    shown = charts.select_rows(rows)
    assert len(shown) == charts.PORTFOLIO_ROWS
    overdue = [r for r in rows if r.overdue]
    assert len(overdue) == 18  # every 7th of 120
    assert all(r in shown for r in overdue)  # overdue projects are never left out
    completions = [r.forecast.completion for r in shown]
    assert completions == sorted(completions)  # still in time order
    fig = charts.portfolio_figure(shown, TODAY, total=len(rows))
    assert "On hold" in legend_labels(fig)
    assert fig._suptitle.get_text().startswith("Portfolio — 30 of 120 active projects")  # type: ignore[union-attr]
    assert_no_overlaps(fig)


# ----------------------------------------------------------------------------- HTML


def test_project_report_names_every_signature_with_manifestation_and_hash() -> None:
    project = history_project()
    page = render_project(project, TODAY, timeline_svg="<svg></svg>")
    text = html.unescape(page)
    signatures = [s for r in project.reviews for s in r.signatures]
    assert len(signatures) == 10  # g-a, g-c, g-b, g-d (recycled), g-b again
    for s in signatures:
        line = (
            f"Signed by {s.name} ({s.user}, role {s.role}) at "
            f"{s.signed_at:%Y-%m-%dT%H:%M:%S}Z — meaning: {s.meaning.value} — "
            f"decision: {s.decision.value} — record sha256:{s.record_hash}"
        )
        assert line in text
        # The table row too: printed name, time (UTC), meaning and the full record hash.
        row = re.search(
            rf"<td>{re.escape(s.name)}</td><td>{s.user}</td><td>{s.role}</td>"
            rf"<td>{s.meaning.value}</td>.*?{s.signed_at:%Y-%m-%d %H:%M:%S} UTC</td>\s*"
            rf'<td class="hash">{s.record_hash}</td>',
            page,
            re.S,
        )
        assert row, s
    # Every review is there, with its outcome.
    for r in project.reviews:
        assert f'id="gate-{r.key}"' in page
    assert "Close CAPA-12 before B" in text  # the condition of the conditional go


def test_project_report_forecast_table_and_open_items() -> None:
    project = history_project()
    fc = forecast(project, TODAY)
    page = render_project(project, TODAY, timeline_svg="<svg></svg>")
    # d: gate open since day 39; b ran again 35→38; d started on day 38, planned end 48.
    assert fc.phase("d").end == day(48)
    assert fc.completion == day(48)
    row = re.search(r'<tr class="critical" id="phase-d">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[4:10] == [
        f"{day(30):%Y-%m-%d}", f"{day(40):%Y-%m-%d}",  # baseline
        f"{day(38):%Y-%m-%d}", "–",  # actual
        f"{day(38):%Y-%m-%d}", f"{day(48):%Y-%m-%d}",  # forecast
    ]  # fmt: skip
    assert cells[10].strip() == "+8"
    text = html.unescape(page)
    assert "Signature missing" in text and "Gate g-d (review 2): 1 more pm" in text
    assert "Forecast completion" in text


def test_project_report_is_self_contained() -> None:
    project = history_project()
    page = render_project(project, TODAY)  # draws the real timeline
    assert "<svg" in page and "Phase A" in page
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "@import" not in page
    # url(...) only ever points inside the page (the SVG's clip paths and hatches).
    assert set(re.findall(r"url\((.)", page)) <= {"#"}


def test_project_report_escapes_what_people_typed() -> None:
    project = start()
    project.customer = "<b>Acme</b> & Co"
    page = render_project(project, day(1), timeline_svg="<svg></svg>")
    assert "<b>Acme</b>" not in page and "&lt;b&gt;Acme&lt;/b&gt; &amp; Co" in page


def test_portfolio_page_lists_every_project() -> None:
    projects = many_projects(12)
    rows = charts.portfolio_rows(projects, TODAY)
    page = render_portfolio(rows, TODAY, chart_svg="<svg></svg>", shown=12)
    for p in projects:
        assert f"<td>{p.code}</td>" in page
    assert "g-a #1 (due" in page


# ----------------------------------------------------------------------------- Markdown


def test_forecast_markdown_for_the_prefect_artifact() -> None:
    project = history_project()
    md = forecast_markdown(project, TODAY, report_url="https://reports.example/F-001.html")
    assert md.startswith("### Forecast — F-001 · Acme Pharma\n")
    assert f"Forecast completion **{day(48):%Y-%m-%d}**" in md
    assert f"baseline {day(40):%Y-%m-%d}, slip **+8 d**" in md
    assert "Critical path: Phase A → Phase B → Phase D" in md
    assert f"| **Phase D** | gate-review | {day(40):%Y-%m-%d} | {day(38):%Y-%m-%d} | – |" in md
    assert md.rstrip().endswith("(https://reports.example/F-001.html)")
    late = forecast_markdown(overdue_project(), TODAY)
    assert "Gates past their SLA:" in late
    assert "- Gate g-a (review 1): due 2025-03-11, 34 d late; waiting for 1 × pm, 1 × qa" in late
