"""Pure helpers over a process's phase graph (standard library only).

A graph is a mapping from phase id to the ids in its ``after`` list (the phases that must
pass their gates before it starts). Use :func:`graph_of` to build one from a
``ProcessDef`` or ``ProcessSnapshot`` (anything with ``.phases`` whose items have ``.id`` and
``.after``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

PhaseGraph = Mapping[str, Sequence[str]]


class _Phase(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def after(self) -> Sequence[str]: ...


class _HasPhases(Protocol):
    @property
    def phases(self) -> Sequence[_Phase]: ...


class CycleError(ValueError):
    """The ``after`` lists form a cycle; ``cycle`` lists it with the first phase repeated."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("phases form a cycle: " + " -> ".join(cycle))


def graph_of(process: _HasPhases | Iterable[_Phase]) -> dict[str, list[str]]:
    """Phase id -> its ``after`` list, in definition order."""
    phases = process.phases if hasattr(process, "phases") else process
    return {p.id: list(p.after) for p in phases}


def successors(graph: PhaseGraph) -> dict[str, list[str]]:
    """Phase id -> phases that list it in ``after`` (unknown ids are ignored)."""
    out: dict[str, list[str]] = {pid: [] for pid in graph}
    for pid, after in graph.items():
        for dep in after:
            if dep in out and pid not in out[dep]:
                out[dep].append(pid)
    return out


def start_phases(graph: PhaseGraph) -> list[str]:
    """Phases that wait for nothing: they start with the project."""
    return [pid for pid, after in graph.items() if not after]


def final_phases(graph: PhaseGraph) -> list[str]:
    """Phases no other phase comes after: their gates end the project."""
    succ = successors(graph)
    return [pid for pid in graph if not succ[pid]]


def find_cycle(graph: PhaseGraph) -> list[str] | None:
    """One cycle of the graph, e.g. ``["a", "b", "a"]``, or ``None``."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        colour[root] = grey
        while stack:
            node, index = stack[-1]
            deps = [d for d in graph[node] if d in graph]
            if index < len(deps):
                stack[-1] = (node, index + 1)
                nxt = deps[index]
                if colour[nxt] == grey:
                    start = path.index(nxt)
                    # ``after`` points backwards in time; report the cycle in running order.
                    cycle = list(reversed([*path[start:], nxt]))
                    return cycle
                if colour[nxt] == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                colour[node] = black
                stack.pop()
                path.pop()
    return None


def topological_order(graph: PhaseGraph) -> list[str]:
    """Phases in an order where each comes after all of its ``after``; ties keep file order.

    Raises :class:`CycleError` when the graph has a cycle. Unknown ids in ``after`` are ignored.
    """
    order = reachable_order(graph)
    if len(order) != len(graph):
        cycle = find_cycle(graph)
        if cycle is not None:
            raise CycleError(cycle)
    return order


def reachable_order(graph: PhaseGraph) -> list[str]:
    """The phases that can ever start, in start order (Kahn's algorithm, file order for ties).

    A phase can start once all of its ``after`` have; phases in or after a cycle, and phases
    waiting for an unknown id, never can and are left out.
    """
    remaining = {pid: {d for d in after} for pid, after in graph.items()}
    done: set[str] = set()
    order: list[str] = []
    progress = True
    while progress:
        progress = False
        for pid in graph:
            if pid in done:
                continue
            if remaining[pid] <= done:
                done.add(pid)
                order.append(pid)
                progress = True
    return order


def upstream(graph: PhaseGraph, phase: str) -> set[str]:
    """Every phase that must pass before ``phase`` starts (transitively), without itself."""
    seen: set[str] = set()
    todo = [d for d in graph.get(phase, ()) if d in graph]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(d for d in graph[pid] if d in graph)
    seen.discard(phase)
    return seen


def downstream(graph: PhaseGraph, phase: str) -> set[str]:
    """Every phase that waits, directly or not, for ``phase``; without itself."""
    succ = successors(graph)
    seen: set[str] = set()
    todo = list(succ.get(phase, ()))
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(succ[pid])
    seen.discard(phase)
    return seen


def between(graph: PhaseGraph, source: str, target: str) -> set[str]:
    """The phases on the paths from ``source`` to ``target``, both included.

    A phase is on such a path when it is ``source`` or downstream of it, and ``target`` or
    upstream of it. Empty when ``target`` is not ``source`` and not downstream of it.
    """
    if source == target:
        return {source} if source in graph else set()
    after_source = downstream(graph, source) | {source}
    before_target = upstream(graph, target) | {target}
    if target not in after_source:
        return set()
    return after_source & before_target
