"""Reading an ERP cost export (CSV) into checked cost lines, with a finding per bad cell.

The file (documented in docs/reports.md and the README):

* UTF-8 (a byte-order mark is allowed), comma-, semicolon- or tab-separated (the header
  line decides), quoted as spreadsheets quote (``"a, b"``, ``""`` for a quote);
* a header row naming the columns, in any order and any case: ``phase``, ``kind``,
  ``amount``, ``ref`` are required; ``note``, ``currency`` (must be the project's) and
  ``booked_on`` (``YYYY-MM-DD``; ``date`` is accepted as its name) are optional; other columns
  (an ERP export has many) are ignored and listed in the result;
* one entry per row; empty rows are skipped; at most :data:`MAX_ROWS` rows.

Positions are spreadsheet positions: the header is row 1, the first entry row 2, columns
count from 1. Every problem is one line, ``costs.csv:4:3: amount: amount '-5' must not be
negative``; an import with any problem records nothing.

Pure: the standard library's ``csv`` over text the edge has read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .budget import ImportPlan, Recorded, cost_line
from .errors import NotFound, RuleViolation
from .money import text

if TYPE_CHECKING:
    from .project import Project

REQUIRED = ("phase", "kind", "amount", "ref")
OPTIONAL = ("note", "currency", "booked_on")
ALIASES = {"date": "booked_on", "booking_date": "booked_on", "reference": "ref"}
MAX_ROWS = 100_000
MAX_PROBLEMS_SHOWN = 50


@dataclass
class CsvTable:
    """The rows of a cost file: ``cells[name]`` by column name, with their positions."""

    name: str
    columns: dict[str, int] = field(default_factory=dict)
    """Known column name -> its 1-based position."""
    ignored: list[str] = field(default_factory=list)
    width: int = 0
    """Cells in the header row."""
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    """(spreadsheet row number, cells)."""
    problems: list[str] = field(default_factory=list)

    def cell(self, cells: list[str], column: str) -> str | None:
        pos = self.columns.get(column)
        if pos is None or pos > len(cells):
            return None
        return cells[pos - 1]


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _name(raw: str) -> str:
    name = raw.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(name, name)


def read_csv(content: str, name: str) -> CsvTable:
    """The header and rows of a cost file; syntax problems in ``problems``."""
    table = CsvTable(name)
    body = content.removeprefix("\ufeff")
    if "\x00" in body:
        table.problems.append(f"{name}:1:1: file: the file holds NUL bytes; it is not CSV text")
        return table
    first = body.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=_delimiter(first), strict=True)
    record = 0
    try:
        for cells in reader:
            record += 1
            if record == 1:
                _header(table, cells)
                if table.problems:
                    return table
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(table.rows) >= MAX_ROWS:
                table.problems.append(
                    f"{name}:{record}:1: file: more than {MAX_ROWS} rows; split the export"
                )
                return table
            table.rows.append((record, cells))
    except csv.Error as exc:
        table.problems.append(f"{name}:{record + 1}:1: file: not valid CSV here ({exc})")
        return table
    if record == 0:
        table.problems.append(f"{name}:1:1: header: the file is empty")
    elif not table.rows:
        table.problems.append(f"{name}:2:1: file: no cost rows below the header")
    return table


def _header(table: CsvTable, cells: list[str]) -> None:
    table.width = len(cells)
    for pos, raw in enumerate(cells, start=1):
        col = _name(raw)
        if col in REQUIRED or col in OPTIONAL:
            if col in table.columns:
                table.problems.append(
                    f"{table.name}:1:{pos}: header: column {col!r} appears twice "
                    f"(first in column {table.columns[col]})"
                )
            else:
                table.columns[col] = pos
        elif raw.strip():
            table.ignored.append(raw.strip()[:64])
    for col in REQUIRED:
        if col not in table.columns:
            table.problems.append(
                f"{table.name}:1:1: header: missing column {col!r} (required: "
                f"{', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})"
            )


def plan_import(
    project: Project, table: CsvTable, known: Mapping[tuple[str, str], Recorded]
) -> ImportPlan:
    """Check every row; the new lines, the rows already recorded, and every problem."""
    plan = ImportPlan(problems=list(table.problems))
    if plan.problems:
        return plan
    currency = project.budget.currency if project.budget is not None else None
    first_row: dict[tuple[str, str], int] = {}
    positions = [(col, pos - 1) for col, pos in table.columns.items()]
    for record, cells in table.rows:
        if len(cells) > table.width and any(c.strip() for c in cells[table.width :]):
            plan.problems.append(
                f"{table.name}:{record}:{table.width + 1}: row: more cells ({len(cells)}) than "
                f"the header has columns ({table.width})"
            )
            continue
        width = len(cells)
        values = {col: (cells[i] if i < width else "") for col, i in positions}
        given = values.get("currency", "").strip()
        if "currency" in table.columns and given and given != currency:
            plan.problems.append(
                f"{table.name}:{record}:{table.columns['currency']}: currency: {given[:12]!r} is "
                f"not the project's currency {currency}; convert the amounts before importing"
            )
            continue
        try:
            line = cost_line(
                project,
                values["phase"].strip(),
                values["kind"].strip().lower(),
                values["amount"],
                values["ref"].strip(),
                values.get("note"),
                values.get("booked_on"),
                row=record,
            )
        except NotFound as exc:
            plan.problems.append(
                f"{table.name}:{record}:{table.columns['phase']}: phase: {_short(exc)}"
            )
            continue
        except RuleViolation as exc:
            column = str(exc.facts.get("field") or "")
            column = {"cost ref": "ref", "cost note": "note", "quoted": "amount"}.get(
                column, column
            )
            pos = table.columns.get(column, 1)
            plan.problems.append(f"{table.name}:{record}:{pos}: {column or 'row'}: {exc.message}")
            continue
        key = (line.kind, line.ref)
        if key in first_row:
            plan.problems.append(
                f"{table.name}:{record}:{table.columns['ref']}: ref: {line.kind} ref "
                f"{line.ref!r} appears twice in the file (first at row {first_row[key]})"
            )
            continue
        first_row[key] = record
        prior = known.get(key)
        if prior is None:
            plan.lines.append(line)
        elif prior.phase == line.phase and prior.amount == line.amount:
            plan.skipped += 1  # the same entry, imported before: re-importing is safe
        else:
            plan.problems.append(
                f"{table.name}:{record}:{table.columns['ref']}: ref: {line.kind} ref "
                f"{line.ref!r} is already recorded for phase {prior.phase} with "
                f"{currency} {text(prior.amount)}; this row says phase {line.phase}, "
                f"{currency} {text(line.amount)} (a recorded entry never changes: book the "
                "difference under a new ref) [rule: cost-ref-conflict]"
            )
    return plan


def _short(exc: Exception) -> str:
    message = str(exc)
    return message if len(message) <= 300 else message[:300] + "..."


def refusal(table: CsvTable, plan: ImportPlan) -> RuleViolation:
    """One refusal for a file with problems: each problem on its own line, then a summary."""
    shown = plan.problems[:MAX_PROBLEMS_SHOWN]
    more = len(plan.problems) - len(shown)
    lines = list(shown)
    if more:
        lines.append(f"... and {more} more problem(s)")
    lines.append(f"{table.name}: {len(plan.problems)} problem(s); nothing was imported")
    return RuleViolation(
        "cost-import-invalid",
        "\n".join(lines),
        problems=plan.problems[:1000],
        file=table.name,
    )
