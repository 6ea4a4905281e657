"""JSON Schemas of the definition files, generated from the models (``cdmo schema``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .models import SCHEMA_V1, CalendarDef, GateDef, ProcessDef
from .plan_file import PlanDef
from .scenario import ScenarioDef

SCHEMA_FILES: dict[
    str,
    type[ProcessDef] | type[GateDef] | type[ScenarioDef] | type[CalendarDef] | type[PlanDef],
] = {
    "process.schema.json": ProcessDef,
    "gate.schema.json": GateDef,
    "scenario.schema.json": ScenarioDef,
    "calendar.schema.json": CalendarDef,
    "plan.schema.json": PlanDef,
}

_TITLES = {
    "process.schema.json": (
        "cdmo-workflow process definition",
        f"A process template ({SCHEMA_V1}, kind: process): roles, phases and their exit gates. "
        "Kept in definitions/<id>.yaml.",
    ),
    "gate.schema.json": (
        "cdmo-workflow gate definition",
        f"A gate ({SCHEMA_V1}, kind: gate): must-meet checks, sign-off quotas, decisions, SLA "
        "and notifications. Kept in gates/<id>.yaml and shared between processes.",
    ),
    "scenario.schema.json": (
        "cdmo-workflow scenario",
        f"A dry run of a process ({SCHEMA_V1}, kind: scenario): a team, scripted steps and "
        "expectations, run by `cdmo simulate`. Kept in definitions/scenarios/.",
    ),
    "calendar.schema.json": (
        "cdmo-workflow site calendar",
        f"A site calendar ({SCHEMA_V1}, kind: calendar): weekend days, holidays and shutdown "
        "periods that business-day durations and SLAs skip. Kept in calendars/<id>.yaml.",
    ),
    "plan.schema.json": (
        "cdmo-workflow agreed plan",
        f"The dates agreed with the customer ({SCHEMA_V1}, kind: plan): each phase's first and "
        "last day and named milestones; `cdmo plan set` or `cdmo project start --plan`.",
    ),
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12), with ``schema`` under its YAML name."""
    out: dict[str, dict[str, Any]] = {}
    for name, model in SCHEMA_FILES.items():
        body = model.model_json_schema(by_alias=True, mode="validation")
        title, description = _TITLES[name]
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://cdmo-workflow.dev/schemas/{name}",
            **body,
            "title": title,
            "description": description,
        }
    return out


def render(schema: dict[str, Any]) -> str:
    """The text written to disk: two-space indent, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into ``out_dir`` (created if needed); return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = out_dir / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
