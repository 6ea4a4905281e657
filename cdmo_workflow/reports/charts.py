"""Timeline (Gantt) and portfolio pictures with matplotlib's Agg renderer, as PNG and SVG.

matplotlib is imported inside the functions (``cdmo validate`` and the engine commands never
load it), and only through ``matplotlib.figure.Figure`` with an Agg canvas: no pyplot, no
global backend switch, nothing shown on screen, safe in threads of a server.

Colours and marks (each one is explained in the picture's legend):

* grey bar - the baseline (the agreed plan, as the latest approved change left it);
* light blue bar - the forecast; light red with a red edge - a phase on the critical path;
* dark blue bar - where a phase actually ran (lighter while it still runs, hatched purple for
  a run that a recycle ended);
* diamonds and other marks - gate decisions, coloured by outcome; a hollow diamond is an open
  gate, with a red edge once its SLA (``decide_within`` from the opening) has passed;
* dashed black line - today.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .. import display
from ..domain.forecast import Forecast, forecast, gate_due, overdue_gates
from ..domain.records import ReviewState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..domain.project import Project

BASELINE = "#bdbdbd"
FORECAST = "#9ecae1"
CRITICAL_FILL = "#fcbba1"
CRITICAL_EDGE = "#cb181d"
ACTUAL = "#08519c"
RUNNING = "#4292c6"
RECYCLED = "#807dba"
LATE = "#fdae6b"
TODAY = "#111111"
OVERDUE = "#d7191c"

GATE_STYLE: dict[str, tuple[str, str, str]] = {
    # outcome: (marker, face colour, legend label)
    "go": ("D", "#1a9850", "Gate: go"),
    "conditional-go": ("D", "#e6ab02", "Gate: conditional go"),
    "hold": ("s", "#fd8d3c", "Gate: hold"),
    "recycle": ("o", "#762a83", "Gate: recycle"),
    "kill": ("X", "#000000", "Gate: kill"),
}

PORTFOLIO_ROWS = 30
"""The portfolio picture shows at most this many projects (the most urgent); tables list all."""

_RC = {
    "svg.fonttype": "none",  # text stays text in the SVG: searchable, small, crisp
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "cdmo-workflow",  # stable ids: the same data gives the same SVG
}


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    rc: Any = _RC
    with matplotlib.rc_context(rc):
        yield


def _fmt_day(t: datetime) -> str:
    return display.spoken_day(t)


def _slip(days: float | None) -> str:
    return display.spoken_slip(days)


def _num(t: datetime) -> float:
    """matplotlib's date number of ``t``."""
    import matplotlib.dates as mdates

    value: float = mdates.date2num(t)  # type: ignore[no-untyped-call]
    return value


def _new_figure(
    width: float,
    height: float,
    layout: Literal["constrained", "compressed", "tight"] | None = "constrained",
) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _date_axis(ax: Any, lo: datetime, hi: datetime) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        # Day ticks always name their month ("08 Mar"), so no tick reads as a bare number.
        formats=["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%b", "%d %b", "%H:%M", "%H:%M"],
        offset_formats=["", "%Y", "%Y", "%d %b %Y", "%d %b %Y", "%d %b %Y %H:%M"],
        show_offset=True,
    )
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(_num(lo), _num(hi))
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.8)
    ax.set_axisbelow(True)


def _bar(ax: Any, y: float, start: datetime, end: datetime, height: float, **kw: Any) -> None:

    left = _num(start)
    width = max(_num(end) - left, 0.15)  # a zero-length phase stays visible
    ax.barh(y, width, left=left, height=height, **kw)


def _today_line(ax: Any, today: datetime) -> None:

    x = _num(today)
    ax.axvline(x, color=TODAY, linestyle=(0, (4, 3)), linewidth=1.2, zorder=5)
    ax.annotate(
        f"today {today:%d %b}",
        xy=(x, 1.0),
        xycoords=ax.get_xaxis_transform(),
        xytext=(0, 3),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=8,
        color=TODAY,
    )


# ----------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Rendered:
    """A picture in both formats: PNG bytes and SVG text (ready to inline in HTML)."""

    png: bytes
    svg: str

    @property
    def inline_svg(self) -> str:
        """The ``<svg>`` element alone (no XML declaration or DOCTYPE)."""
        text = self.svg
        start = text.find("<svg")
        return text[start:] if start >= 0 else text

    def write(self, out_dir: Path, stem: str) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
        png.write_bytes(self.png)
        svg.write_text(self.svg, encoding="utf-8")
        return {"png": png, "svg": svg}


def render(fig: Figure, formats: Sequence[str] = ("png", "svg")) -> Rendered:
    out: dict[str, bytes] = {}
    with _style():
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, metadata=_metadata(fmt))
            out[fmt] = buf.getvalue()
            # The first save laid the figure out; freeze that layout, so that the next
            # format does not run the constrained layout again (a third of the cost).
            if fig.get_layout_engine() is not None:
                fig.set_layout_engine("none")
    return Rendered(png=out.get("png", b""), svg=out.get("svg", b"").decode("utf-8"))


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation date in the files, so regenerating an unchanged example changes nothing.
    if fmt == "svg":
        return {"Date": None, "Creator": "cdmo-workflow (matplotlib)"}
    if fmt == "png":
        return {"Software": "cdmo-workflow (matplotlib)"}
    return {}


def timeline_figure(project: Project, fc: Forecast | None = None) -> Figure:
    """Baseline, forecast and actual bars per phase, gate marks, critical path, today."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fc = fc or forecast(project, datetime.now().astimezone())
    today = fc.today
    phases = fc.phases
    with _style():
        fig = _new_figure(11.0, 1.9 + 0.62 * len(phases))
        ax = fig.add_subplot()
        times: list[datetime] = [fc.start, today]
        notes: list[tuple[datetime, str]] = []  # texts right of a bar end: room is kept
        drawn: set[str] = set()
        for i, p in enumerate(phases):
            if p.baseline_start and p.baseline_end:
                _bar(ax, i - 0.24, p.baseline_start, p.baseline_end, 0.14, color=BASELINE)
                times += [p.baseline_start, p.baseline_end]
            if p.start and p.end:
                if p.critical:
                    style = {"color": CRITICAL_FILL, "edgecolor": CRITICAL_EDGE, "linewidth": 1.4}
                    drawn.add("critical")
                else:
                    style = {"color": FORECAST, "edgecolor": "#6baed6", "linewidth": 0.6}
                    drawn.add("forecast")
                _bar(ax, i - 0.02, p.start, p.end, 0.22, **style)
                times += [p.start, p.end]
            for run in p.runs:
                end = run.end or today
                kind = "recycled" if run.outcome and "recycled" in run.outcome else "actual"
                drawn.add(kind if run.end or kind == "recycled" else "running")
                if kind == "recycled":
                    _bar(
                        ax,
                        i + 0.22,
                        run.start,
                        end,
                        0.14,
                        color="white",
                        edgecolor=RECYCLED,
                        hatch="////",
                        linewidth=0.8,
                    )
                else:
                    _bar(ax, i + 0.22, run.start, end, 0.14, color=ACTUAL if run.end else RUNNING)
                times += [run.start, end]
            if p.end is not None and p.state != "completed":
                label = f"{p.end:%d %b}" + (
                    f"  ({_slip(p.slip_days)})" if p.slip_days and abs(p.slip_days) >= 0.05 else ""
                )
                notes.append((p.end, label))
                ax.annotate(
                    label,
                    xy=(_num(p.end), i - 0.02),
                    xytext=(7, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7.5,
                    color=CRITICAL_EDGE if p.critical else "#333333",
                )

        row = {p.id: i for i, p in enumerate(phases)}
        seen: set[str] = set()
        overdue = {(g["gate"], g["review"]) for g in overdue_gates(project, today)}
        for review in project.reviews:
            if review.state == ReviewState.VOID:
                continue
            y = row[review.phase] - 0.02
            if review.state == ReviewState.OPEN:
                late = (review.gate, review.number) in overdue
                key = "open-late" if late else "open"
                seen.add(key)
                ax.plot(
                    _num(review.opened_at),
                    y,
                    marker="D",
                    markersize=8,
                    markerfacecolor="white",
                    markeredgewidth=1.8 if late else 1.2,
                    markeredgecolor=OVERDUE if late else "black",
                    zorder=6,
                )
                due = gate_due(project, review.gate, review.opened_at)
                if late and due is not None:
                    ax.plot(
                        _num(due),
                        y,
                        marker="|",
                        markersize=14,
                        markeredgewidth=2,
                        color=OVERDUE,
                        zorder=6,
                    )
                times.append(review.opened_at)
            elif review.outcome is not None and review.decided_at is not None:
                outcome = review.outcome.value
                marker, colour, _ = GATE_STYLE[outcome]
                seen.add(outcome)
                ax.plot(
                    _num(review.decided_at),
                    y,
                    marker=marker,
                    markersize=8,
                    markerfacecolor=colour,
                    markeredgecolor="black",
                    markeredgewidth=0.7,
                    linestyle="none",
                    zorder=6,
                )
                times.append(review.decided_at)

        ax.set_yticks(range(len(phases)))
        labels = [p.name + (f"  (cycle {p.cycle})" if p.cycle > 1 else "") for p in phases]
        ax.set_yticklabels(labels)
        label_in = max((_text_width_in(t, 9, bold=True) for t in labels), default=0.0)
        for tick, p in zip(ax.get_yticklabels(), phases, strict=True):
            if p.critical:
                tick.set_color(CRITICAL_EDGE)
                tick.set_fontweight("bold")
        ax.set_ylim(len(phases) - 0.45, -0.55)
        ax.tick_params(axis="y", length=0)
        lo, hi = min(times), max(times)
        span = max(hi - lo, timedelta(days=7))
        lo -= span * 0.02
        axes_in = 11.0 - label_in - 0.45
        _date_axis(ax, lo, _room_for_notes(lo, hi + span * 0.02, notes, axes_in, 7.5, 7))
        _today_line(ax, today)

        title = f"{project.code} · {project.customer} — timeline as of {_fmt_day(today)}"
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
        ax.set_title(_subtitle(fc), loc="left", pad=22, fontsize=8.5, fontweight="normal")

        candidates: list[tuple[str, Any]] = [
            ("baseline", Patch(color=BASELINE, label="Baseline (agreed plan)")),
            ("forecast", Patch(facecolor=FORECAST, edgecolor="#6baed6", label="Forecast")),
            (
                "critical",
                Patch(fc=CRITICAL_FILL, ec=CRITICAL_EDGE, label="Forecast, critical path"),
            ),
            ("actual", Patch(color=ACTUAL, label="Actual")),
            ("running", Patch(color=RUNNING, label="Actual, still running")),
            (
                "recycled",
                Patch(fc="white", ec=RECYCLED, hatch="////", label="Run ended by recycle"),
            ),
        ]
        drawn.add("baseline")
        handles: list[Any] = [h for key, h in candidates if key in drawn]
        handles.append(Line2D([], [], color=TODAY, linestyle=(0, (4, 3)), label="Today"))
        for outcome, (marker, colour, label) in GATE_STYLE.items():
            if outcome in seen:
                handles.append(_marker_handle(marker, colour, "black", label))
        if "open" in seen:
            handles.append(_marker_handle("D", "white", "black", "Gate open"))
        if "open-late" in seen:
            handles.append(_marker_handle("D", "white", OVERDUE, "Gate open, past its SLA"))
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="|",
                    markersize=12,
                    markeredgewidth=2,
                    color=OVERDUE,
                    linestyle="none",
                    label="SLA deadline",
                )
            )
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=4,
            frameon=False,
            fontsize=8,
            handlelength=1.8,
            columnspacing=1.6,
        )
    return fig


def _marker_handle(marker: str, face: str, edge: str, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker=marker,
        markersize=8,
        markerfacecolor=face,
        markeredgecolor=edge,
        linestyle="none",
        label=label,
    )


def _subtitle(fc: Forecast) -> str:
    if fc.state == "killed":
        return f"Killed on {_fmt_day(fc.ended_at)}." if fc.ended_at else "Killed."
    base = f"baseline {_fmt_day(fc.baseline_completion)}" if fc.baseline_completion else ""
    if fc.state == "completed" and fc.completion:
        head = f"Completed {_fmt_day(fc.completion)}"
    elif fc.completion:
        head = f"Forecast completion {_fmt_day(fc.completion)}"
    else:
        head = "No forecast"
    text = f"{head} ({base}, slip {_slip(fc.slip_days)})" if base else head
    if fc.on_hold_since:
        text += f" · on hold since {_fmt_day(fc.on_hold_since)}"
    return text


def timeline(project: Project, fc: Forecast) -> Rendered:
    """The timeline picture of one project, PNG and SVG."""
    return render(timeline_figure(project, fc))


# ----------------------------------------------------------------------------- portfolio


@dataclass(frozen=True)
class PortfolioRow:
    project: Project
    forecast: Forecast
    overdue: list[dict[str, Any]]

    @property
    def current(self) -> list[str]:
        return [p.name for p in self.forecast.phases if p.state in ("active", "gate-review")]

    @property
    def urgency(self) -> tuple[int, float]:
        return (len(self.overdue), self.forecast.slip_days or 0.0)


def portfolio_rows(projects: Sequence[Project], today: datetime) -> list[PortfolioRow]:
    """Forecast and overdue gates of each project, by forecast completion."""
    rows = [PortfolioRow(p, forecast(p, today), overdue_gates(p, today)) for p in projects]
    rows.sort(key=lambda r: (r.forecast.completion or today, r.project.code))
    return rows


def select_rows(rows: Sequence[PortfolioRow], limit: int = PORTFOLIO_ROWS) -> list[PortfolioRow]:
    """The ``limit`` most urgent rows (overdue gates, then slip), kept in completion order."""
    if len(rows) <= limit:
        return list(rows)
    chosen = {id(r) for r in sorted(rows, key=lambda r: r.urgency, reverse=True)[:limit]}
    return [r for r in rows if id(r) in chosen]


def portfolio_figure(rows: Sequence[PortfolioRow], today: datetime, total: int) -> Figure:
    """Active projects on one time axis: plan, forecast, current phase and overdue gates."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with _style():
        # A fixed layout (margins in inches) instead of the constrained layout, which would
        # cost a quarter of the picture's time: the labels have a known maximum length.
        labels = [_short(f"{r.project.code} · {r.project.customer}", 30) for r in rows]
        width, height = 11.0, 2.0 + 0.42 * max(len(rows), 1)
        left = _text_width_in(max(labels, key=len, default=""), 9) + 0.25
        top, bottom = 0.95, 1.0
        fig = _new_figure(width, height, layout=None)
        fig.subplots_adjust(
            left=left / width, right=1 - 0.15 / width, top=1 - top / height, bottom=bottom / height
        )
        ax = fig.add_subplot()
        times: list[datetime] = [today]
        notes: list[tuple[datetime, str]] = []
        any_hold = any_late = any_overdue = False
        for i, r in enumerate(rows):
            fc = r.forecast
            if fc.baseline_completion:
                _bar(ax, i - 0.2, fc.start, fc.baseline_completion, 0.12, color=BASELINE)
                times.append(fc.baseline_completion)
            end = fc.completion or today
            late = (fc.slip_days or 0) >= 0.05
            any_late |= late
            hold = fc.on_hold_since is not None
            any_hold |= hold
            _bar(
                ax,
                i + 0.04,
                fc.start,
                end,
                0.26,
                color=LATE if late else FORECAST,
                edgecolor="#7f7f7f",
                linewidth=0.5,
                hatch="///" if hold else None,
            )
            times += [fc.start, end]
            for p in fc.phases:
                if p.state in ("active", "gate-review") and p.start and p.end:
                    _bar(ax, i + 0.04, p.start, p.end, 0.12, color=ACTUAL)
            for g in r.overdue:
                any_overdue = True
                due = datetime.fromisoformat(g["due"].replace("Z", "+00:00"))
                ax.plot(
                    _num(due),
                    i + 0.04,
                    marker="v",
                    markersize=8,
                    markerfacecolor=OVERDUE,
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                    linestyle="none",
                    zorder=6,
                )
                times.append(due)
            note = " + ".join(r.current) or fc.state
            note += f" · {_slip(fc.slip_days)}"
            if r.overdue:
                note += f" · {len(r.overdue)} gate{'s' if len(r.overdue) > 1 else ''} overdue"
            notes.append((end, note))
            ax.annotate(
                note,
                xy=(_num(end), i + 0.04),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=7.5,
                color=OVERDUE if r.overdue else "#333333",
            )
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels)
        ax.set_ylim(max(len(rows), 1) - 0.4, -0.6)
        ax.tick_params(axis="y", length=0)
        lo, hi = min(times), max(times)
        span = max(hi - lo, timedelta(days=7))
        lo -= span * 0.02
        axes_in = width - left - 0.15
        _date_axis(ax, lo, _room_for_notes(lo, hi + span * 0.02, notes, axes_in, 7.5, 6))
        _today_line(ax, today)
        shown = f"{len(rows)} of {total}" if total > len(rows) else f"{total}"
        fig.suptitle(
            f"Portfolio — {shown} active project{'s' if total != 1 else ''}"
            f" — as of {_fmt_day(today)}",
            x=0.01,
            y=1 - 0.1 / height,
            ha="left",
            va="top",
            fontsize=11,
            fontweight="bold",
        )
        sub = "Each bar runs from the project's start to its forecast completion."
        if total > len(rows):
            sub = (
                f"The {len(rows)} most urgent projects (overdue gates first, then the "
                "largest slip); the table lists all of them."
            )
        ax.set_title(sub, loc="left", pad=22, fontsize=8.5, fontweight="normal")
        handles: list[Any] = [
            Patch(color=BASELINE, label="Baseline: start to planned completion"),
            Patch(facecolor=FORECAST, edgecolor="#7f7f7f", label="Forecast, on plan or early"),
        ]
        if any_late:
            handles.append(Patch(facecolor=LATE, edgecolor="#7f7f7f", label="Forecast, late"))
        if any_hold:
            handles.append(
                Patch(facecolor="white", edgecolor="#7f7f7f", hatch="///", label="On hold")
            )
        handles.append(Patch(color=ACTUAL, label="Current phase (start to forecast end)"))
        if any_overdue:
            handles.append(_marker_handle("v", OVERDUE, "black", "Overdue gate (SLA deadline)"))
        handles.append(Line2D([], [], color=TODAY, linestyle=(0, (4, 3)), label="Today"))
        fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.08 / height),
            ncols=4,
            frameon=False,
            fontsize=8,
            handlelength=1.8,
            columnspacing=1.6,
        )
    return fig


def _text_width_in(text: str, size: float, *, bold: bool = False) -> float:
    """Width of ``text`` in inches at ``size`` points, in the charts' font (no renderer)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return float(width) / 72


def _room_for_notes(
    lo: datetime,
    hi: datetime,
    notes: Sequence[tuple[datetime, str]],
    axes_in: float,
    size: float,
    offset_pt: float,
) -> datetime:
    """The right end of the time axis so that each note fits right of its bar's end.

    A note of width ``w`` at time ``t`` fits when ``(t - lo) / (x - lo) * A + w <= A``
    (``A`` the axes' width in inches), that is ``x >= lo + (t - lo) * A / (A - w)``.
    """
    right = hi
    for t, text in notes:
        w = _text_width_in(text, size) + (offset_pt + 4) / 72
        if w >= axes_in * 0.8:  # an absurdly long note: give it most of the width
            w = axes_in * 0.8
        right = max(right, lo + (t - lo) * (axes_in / (axes_in - w)))
    return right


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def portfolio(rows: Sequence[PortfolioRow], today: datetime) -> Rendered:
    """The portfolio picture (at most :data:`PORTFOLIO_ROWS` projects), PNG and SVG."""
    return render(portfolio_figure(select_rows(rows), today, total=len(rows)))
