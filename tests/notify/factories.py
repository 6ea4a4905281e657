"""A small process snapshot built in code (independent of the shipped definitions)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cdmo_workflow.spec.models import GateDef, ProcessDef, ProcessSnapshot


def gate(gate_id: str, **extra: Any) -> GateDef:
    doc: dict[str, Any] = {
        "schema": "cdmo-workflow/v1",
        "kind": "gate",
        "id": gate_id,
        "name": gate_id.replace("-", " ").title(),
        "signoffs": [{"role": "qa", "min": 1}, {"role": "customer", "min": 1}],
    }
    doc.update(extra)
    return GateDef.model_validate(doc)


def snapshot(
    *,
    process_notify: dict[str, list[str]] | None = None,
    gate_extra: dict[str, Any] | None = None,
    messages: dict[str, Any] | None = None,
) -> ProcessSnapshot:
    process = ProcessDef.model_validate(
        {
            "schema": "cdmo-workflow/v1",
            "kind": "process",
            "id": "api-programme",
            "name": "API programme",
            "roles": {
                "pm": "Project manager",
                "qa": "Quality assurance",
                "customer": "Sponsor",
                "pd": "Process development",
                "head": "Site head",
                "admin": "Administrator",
            },
            "admin_role": "admin",
            "phases": [
                {"id": "scoping", "name": "Scoping", "owner": "pm", "gate": "g-scoping"},
                {
                    "id": "development",
                    "name": "Process development",
                    "owner": "pd",
                    "after": ["scoping"],
                    "gate": "g-dev",
                },
            ],
            "notify": process_notify or {},
            "messages": messages or {},
        }
    )
    gates = {
        "g-scoping": gate("g-scoping", **(gate_extra or {})),
        "g-dev": gate("g-dev", signoffs=[{"role": "pd"}, {"role": "qa", "min": 2}]),
    }
    content = json.dumps(
        [process.model_dump(mode="json"), {k: g.model_dump(mode="json") for k, g in gates.items()}],
        sort_keys=True,
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    return ProcessSnapshot(process=process, gates=gates, version_hash=f"sha256:{digest}")


TEAM: dict[str, list[str]] = {
    "pm": ["paula"],
    "qa": ["quinn", "quentin"],
    "customer": ["carla"],
    "pd": ["pedro", "paula"],
    "head": ["hugo"],
    "admin": ["ada"],
}
