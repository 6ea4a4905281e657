from __future__ import annotations

import pytest

from cdmo_workflow.spec import graph

G = {
    "scoping": [],
    "dev": ["scoping"],
    "tt": ["dev"],
    "at": ["dev"],
    "supply": ["tt", "at"],
}


def test_start_final_and_order() -> None:
    assert graph.start_phases(G) == ["scoping"]
    assert graph.final_phases(G) == ["supply"]
    assert graph.topological_order(G) == ["scoping", "dev", "tt", "at", "supply"]


def test_upstream_and_downstream() -> None:
    assert graph.upstream(G, "supply") == {"scoping", "dev", "tt", "at"}
    assert graph.upstream(G, "tt") == {"scoping", "dev"}
    assert graph.downstream(G, "dev") == {"tt", "at", "supply"}
    assert graph.downstream(G, "supply") == set()
    assert graph.successors(G)["dev"] == ["tt", "at"]


def test_cycle_is_named() -> None:
    cyclic = {"a": ["c"], "b": ["a"], "c": ["b"], "d": ["c"]}
    cycle = graph.find_cycle(cyclic)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    with pytest.raises(graph.CycleError, match="->"):
        graph.topological_order(cyclic)
    assert graph.reachable_order(cyclic) == []
    assert graph.find_cycle(G) is None


def test_graph_of_process(repo: object) -> None:
    from cdmo_workflow.spec.loader import load_catalog

    catalog = load_catalog(str(repo))
    g = graph.graph_of(catalog.processes["tech-transfer-engagement"])
    assert g == {
        "tech-transfer": [],
        "analytical-transfer": [],
        "engineering-batch": ["tech-transfer", "analytical-transfer"],
    }
