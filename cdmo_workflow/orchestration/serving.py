"""Serving the deployments in-process (``cdmo up`` / ``cdmo serve``): no work pool needed.

The flows live in ``flows/`` (thin entrypoints). They are loaded from the current directory
when it holds them, else from the folder next to the package (editable installs). The runner
starts each run in a subprocess whose entrypoint is the flow file's path relative to the
working directory.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

FLOW_MODULES = ("gate_review", "actions", "maintenance")
RECONCILE_EVERY = timedelta(seconds=60)
RELAY_EVERY = timedelta(seconds=60)
WATCH_EVERY = timedelta(minutes=5)


def flows_dir() -> Path:
    here = Path.cwd() / "flows"
    if (here / "gate_review.py").is_file():
        return here
    pkg = Path(__file__).resolve().parents[2] / "flows"
    if (pkg / "gate_review.py").is_file():
        return pkg
    raise FileNotFoundError(
        "cannot find flows/gate_review.py (run from the cdmo-workflow checkout)"
    )


def load_flow_module(name: str) -> ModuleType:
    mod_name = f"cdmo_flows_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = flows_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def deployments(*, schedules: bool = True) -> list[Any]:
    """The served deployments: gate-review, the six actions, reconcile, relay, SLA watch."""
    gr = load_flow_module("gate_review")
    actions = load_flow_module("actions")
    maint = load_flow_module("maintenance")
    tags = ["cdmo"]
    deps = [
        gr.gate_review.to_deployment(
            name="gate-review",
            tags=tags,
            description="One run per open gate review; resume it to sign off.",
        )
    ]
    for fl in actions.ACTION_FLOWS:
        deps.append(fl.to_deployment(name=fl.name, tags=tags, description=fl.description))

    def every(td: timedelta) -> dict[str, Any]:
        return {"interval": td} if schedules else {}

    deps.append(
        maint.reconcile_gates.to_deployment(
            name="reconcile-gates", tags=tags, **every(RECONCILE_EVERY)
        )
    )
    deps.append(
        maint.notify_relay.to_deployment(name="notify-relay", tags=tags, **every(RELAY_EVERY))
    )
    deps.append(maint.sla_watch.to_deployment(name="sla-watch", tags=tags, **every(WATCH_EVERY)))
    return deps


def runner_environment(poll_seconds: float = 2.0) -> None:
    """Settings the runner reads at import time: set before Prefect is imported."""
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", str(int(max(1, poll_seconds))))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def apply(deps: list[Any]) -> None:
    """Register the deployments now (so gate runs can be created before the runner polls)."""
    for d in deps:
        d.apply()


def serve(deps: list[Any], *, limit: int | None = None) -> None:
    """Serve until interrupted (blocks)."""
    from prefect import serve as prefect_serve

    prefect_serve(*deps, print_starting_message=False, pause_on_shutdown=False, limit=limit)
