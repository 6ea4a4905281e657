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
HOUSEKEEPING_EVERY = timedelta(minutes=15)  # = maintenance.HOUSEKEEPING_RUN_SECONDS
HOUSEKEEPING_TAG = "cdmo-housekeeping"


def housekeeping_concurrency() -> Any:
    """One housekeeping run at a time; a second one (trigger, late schedule) is cancelled."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def housekeeping_triggers() -> list[Any]:
    """Start housekeeping at once when a cdmo run crashes (the zombie automation marked it,
    or a worker reported it): the gate gets a new run without waiting for the schedule,
    and a crashed housekeeping run is replaced."""
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    return [
        DeploymentEventTrigger(
            name="housekeeping after a crash",
            expect={"prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={
                "prefect.resource.role": "tag",
                "prefect.resource.id": ["prefect.tag.cdmo", f"prefect.tag.{HOUSEKEEPING_TAG}"],
            },
        )
    ]


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
    """The served deployments: gate-review, the action deployments, housekeeping (scheduled) and
    the single-pass reconcile, relay and SLA watch (unscheduled)."""
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

    deps.append(
        maint.housekeeping.to_deployment(
            name="housekeeping",
            tags=[HOUSEKEEPING_TAG],
            description=maint.housekeeping.description,
            concurrency_limit=housekeeping_concurrency(),
            triggers=housekeeping_triggers(),
            **({"interval": HOUSEKEEPING_EVERY} if schedules else {}),
        )
    )
    for fl, name in (
        (maint.reconcile_gates, "reconcile-gates"),
        (maint.notify_relay, "notify-relay"),
        (maint.sla_watch, "sla-watch"),
    ):
        deps.append(fl.to_deployment(name=name, tags=[HOUSEKEEPING_TAG]))
    return deps


def runner_environment(poll_seconds: float = 2.0) -> None:
    """Settings the runner reads at import time: set before Prefect is imported."""
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", str(int(max(1, poll_seconds))))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))


def apply(deps: list[Any]) -> None:
    """Register the deployments now (so gate runs can be created before the runner polls),
    and the automation that crashes runs whose heartbeat stopped."""
    for d in deps:
        d.apply()
    ensure_automations()
    start_housekeeping()


def start_housekeeping(client: Any | None = None) -> None:
    """Start a housekeeping run now rather than at the next 15-minute slot (a second one is
    cancelled by the deployment's concurrency limit, so this is always safe)."""
    from prefect import get_client

    if client is None:
        with get_client(sync_client=True) as c:
            start_housekeeping(c)
            return
    dep = client.read_deployment_by_name("housekeeping/housekeeping")
    client.create_flow_run_from_deployment(dep.id, tags=[HOUSEKEEPING_TAG])


def serve(deps: list[Any], *, limit: int | None = None, subscriber: bool = True) -> None:
    """Serve until interrupted (blocks). Flow-run subprocesses inherit a 30 s heartbeat
    (Prefect's default, 180 s, is longer than the zombie automation's 75 s window). The
    sign-off subscriber (``subscriber.py``) runs beside the runner unless turned off."""
    from prefect import serve as prefect_serve

    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))
    if subscriber:
        start_subscriber(in_process=True)

    prefect_serve(*deps, print_starting_message=False, pause_on_shutdown=False, limit=limit)


def start_subscriber(*, in_process: bool = False) -> Any:
    """Start the sign-off subscriber in a daemon thread; its INFO lines go to stderr.

    ``in_process``: also re-execute resumed gate runs here (only beside this process's own
    runner, whose submission is guarded against the run it lost: ``fast_resume.py``)."""
    import logging

    from .fast_resume import guard_runner
    from .subscriber import SignOffSubscriber

    logger = logging.getLogger("cdmo_workflow.subscriber")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    flow = load_flow_module("gate_review").gate_review if in_process and guard_runner() else None
    return SignOffSubscriber(flow).start()


ZOMBIE_AUTOMATION = "cdmo: crash gate runs without heartbeat"
HEARTBEAT_SECONDS = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY on workers (Prefect's minimum)
ZOMBIE_WITHIN = timedelta(seconds=75)  # two and a half missed 30 s heartbeats


def zombie_automation() -> Any:
    """Prefect's documented automation for lost workers ("detect zombie flows"), limited to
    the cdmo runs: after a heartbeat, any flow-run event of the same run must follow within
    75 s, else the run is marked Crashed (the reconcile then replaces it)."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=ZOMBIE_AUTOMATION,
        description="Marks a cdmo flow run Crashed when its heartbeats stop (its worker is "
        "gone); the housekeeping reconcile then replaces the gate run. Created by cdmo.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {
                    "prefect.resource.role": "tag",
                    "prefect.resource.id": ["prefect.tag.cdmo", f"prefect.tag.{HOUSEKEEPING_TAG}"],
                }
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=ZOMBIE_WITHIN,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message="No heartbeat for 75 s: its worker is gone (cdmo automation).",
            )
        ],
    )


def ensure_automations(client: Any | None = None) -> bool:
    """Create the zombie automation unless one of that name exists. True when created."""
    from prefect import get_client

    if client is None:
        with get_client(sync_client=True) as c:
            return ensure_automations(c)
    if client.read_automations_by_name(ZOMBIE_AUTOMATION):
        return False
    client.create_automation(zombie_automation())
    return True
