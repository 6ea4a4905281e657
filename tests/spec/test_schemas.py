"""The committed JSON Schemas match the models (run `cdmo schema` after changing models.py)."""

from __future__ import annotations

import json

from cdmo_workflow.spec.schemas import json_schemas, render

from .conftest import REPO


def test_committed_schemas_are_up_to_date() -> None:
    for name, schema in json_schemas().items():
        committed = (REPO / "schemas" / name).read_text(encoding="utf-8")
        assert committed == render(schema), f"schemas/{name} is stale: run `cdmo schema`"


def test_schemas_use_yaml_names_and_describe_fields() -> None:
    process = json.loads((REPO / "schemas" / "process.schema.json").read_text())
    assert process["properties"]["schema"]["const"] == "cdmo-workflow/v1"
    assert "schema_" not in process["properties"]
    assert process["properties"]["roles"]["description"]
    gate = json.loads((REPO / "schemas" / "gate.schema.json").read_text())
    assert gate["properties"]["kind"]["const"] == "gate"
    assert "signoffs" in gate["required"]
