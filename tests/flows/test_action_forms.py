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
    for name, prop in props.items():
        assert prop.get("description"), f"{flow.name}.{name} has no help text in the UI form"
    # The deployment takes only what picks the project; the rest is a form of choices.
    assert set(props) <= {"project"}, f"{flow.name} takes {sorted(props)}"


def test_start_project_takes_nothing() -> None:
    start = next(f for f in ACTION_FLOWS if f.name == "start-project")
    assert parameter_schema(start.fn).model_dump()["properties"] == {}
