"""The action deployments' UI forms explain every field (no server needed)."""

from __future__ import annotations

import pytest
from prefect.utilities.callables import parameter_schema

from cdmo_workflow.orchestration.serving import load_flow_module

ACTION_FLOWS = load_flow_module("actions").ACTION_FLOWS


@pytest.mark.parametrize("flow", ACTION_FLOWS, ids=lambda f: f.name)
def test_every_parameter_has_help_text(flow) -> None:  # type: ignore[no-untyped-def]
    schema = parameter_schema(flow.fn).model_dump()
    props = schema["properties"]
    assert props, flow.name
    for name, prop in props.items():
        assert prop.get("description"), f"{flow.name}.{name} has no help text in the UI form"
    assert set(schema["required"]) == set(props)
