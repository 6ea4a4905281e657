"""Cross-checks of site calendars and of the budget fields of a process.

A calendar on its own: shutdowns end on or after they start, the weekend leaves a working
day, a day is not listed twice, the file is named after its id. A process: its ``calendar``
names a defined calendar, its ``finance_role`` is a declared role.
"""

from __future__ import annotations

import difflib
from datetime import date

from .findings import _Report, _Source
from .models import WEEKDAYS, CalendarDef, ProcessDef


def check_calendar_alone(src: _Source, cal: CalendarDef, report: _Report) -> None:
    if len(set(cal.weekend)) >= len(WEEKDAYS):
        report.add(src, ("weekend",), "the weekend leaves no working day", "weekend")
    seen: dict[str, int] = {}
    for i, h in enumerate(cal.holidays):
        if h.date in seen:
            line = src.doc.mark(("holidays", seen[h.date], "date"))[0]
            report.add(
                src,
                ("holidays", i, "date"),
                f"duplicate holiday {h.date} (first at line {line})",
                "duplicate-day",
                severity="warning",
            )
        else:
            seen[h.date] = i
    for i, s in enumerate(cal.shutdowns):
        if date.fromisoformat(s.to) < date.fromisoformat(s.from_):
            report.add(
                src,
                ("shutdowns", i, "to"),
                f"shutdown ends ({s.to}) before it starts ({s.from_})",
                "shutdown-order",
            )
        elif (date.fromisoformat(s.to) - date.fromisoformat(s.from_)).days > 366:
            report.add(
                src,
                ("shutdowns", i, "to"),
                f"shutdown from {s.from_} to {s.to} is longer than a year",
                "shutdown-length",
            )
    stem = src.path.name.rsplit(".", 1)[0]
    if stem != cal.id:
        report.add(
            src,
            ("id",),
            f"calendar id {cal.id!r} does not match the file name {src.path.name!r} "
            f"(expected {cal.id}.yaml)",
            "file-name",
            severity="warning",
        )


def check_process_calendar(
    src: _Source, proc: ProcessDef, calendars: dict[str, _Source], report: _Report
) -> None:
    """The process's ``calendar`` and ``finance_role`` name things that exist."""
    if proc.calendar is not None and proc.calendar not in calendars:
        known = sorted(calendars)
        hint = difflib.get_close_matches(proc.calendar, known, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        report.add(
            src,
            ("calendar",),
            f"calendar {proc.calendar!r} is not defined (expected calendars/{proc.calendar}.yaml;"
            f" defined calendars: {', '.join(known) or 'none'}{extra})",
            "undefined-calendar",
        )
    if proc.finance_role is not None and proc.finance_role not in proc.roles:
        report.add(
            src,
            ("finance_role",),
            f"finance role {proc.finance_role!r} is not declared in roles "
            f"(declared: {', '.join(sorted(proc.roles))})",
            "undeclared-role",
        )
