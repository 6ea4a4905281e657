"""Dry runs of a process definition: scripted steps on the pure core, with a simulated clock.

``cdmo simulate`` reads a scenario (``spec/scenario.py``), checks it (``loading.py``), runs
it step by step through ``domain.Project`` (``driver.py``; the step table is ``steps.py``,
the ``expect:`` checks ``expectations.py``) and prints the path taken (``render.py``). No
database, no Prefect, no apprise: notifications use the definition's routing
(``notify/routing.py``) and the SLA watcher's pure rule (``notify/sla_notices.py``).
"""

from __future__ import annotations

from .driver import ScenarioRefused, simulate
from .loading import Runnable, prepare, scenario_files
from .records import Failure, Outcome, StepRecord

__all__ = [
    "Failure",
    "Outcome",
    "Runnable",
    "ScenarioRefused",
    "StepRecord",
    "prepare",
    "scenario_files",
    "simulate",
]
