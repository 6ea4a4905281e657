"""Reports: forecast tables, timeline and portfolio charts, HTML reports, audit printouts.

Heavy libraries (matplotlib, jinja2, SQLAlchemy) are imported inside the functions that use
them, so importing this package costs nothing for the other commands.

* :func:`forecast_markdown` (``reports.markdown``) - the forecast as Markdown, for the Prefect
  project artifact.
* ``reports.charts`` - timeline (Gantt) and portfolio pictures, PNG and SVG.
* ``reports.html`` - the self-contained project (``--for internal``) and portfolio reports.
* ``reports.customer`` - the customer profile (``--for customer``): no ids, hashes or git data.
* ``reports.audit_print`` - the inspector's printout of the audit trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from ..domain.project import Project


def forecast_markdown(project: Project, today: datetime, report_url: str | None = None) -> str:
    """The forecast as Markdown (see :mod:`cdmo_workflow.reports.markdown`)."""
    from .markdown import forecast_markdown as render

    return render(project, today, report_url)


__all__ = ["forecast_markdown"]
