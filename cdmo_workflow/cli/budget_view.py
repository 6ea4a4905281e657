"""The budget table a terminal shows (``project status``, ``cost list``)."""

from __future__ import annotations

from typing import Any

from ..display import markup, money


def print_budget(console: Any, budget: dict[str, Any] | None) -> None:
    """The budget table of ``project status`` and ``cost list``: quoted, committed, actual,
    remaining per phase and in total."""
    if not budget:
        return
    from rich.table import Table

    cur = budget["currency"]
    table = Table(
        "phase",
        f"quoted ({cur})",
        "committed",
        "actual",
        "remaining",
        "burn",
        title=f"Budget ({cur}; overrun above {budget['threshold']} of the quote)",
    )

    def amount(value: Any) -> str:
        return money(value, cur, code=False)

    for row in [*budget["phases"], {"phase": "total", **budget["total"]}]:
        flag = " OVER" if row.get("over") else ""
        table.add_row(
            markup(row["phase"]),
            amount(row["quoted"]),
            amount(row["committed"]),
            amount(row["actual"]),
            amount(row["remaining"]),
            (f"{row['burn_percent']} %" if row.get("burn_percent") else "-") + flag,
        )
    console.print(table)
