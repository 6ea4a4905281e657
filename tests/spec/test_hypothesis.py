"""Random and mutated documents: the loader returns models or findings, never crashes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdmo_workflow.spec.errors import DefinitionError
from cdmo_workflow.spec.loader import Catalog, load_catalog, validate_paths
from cdmo_workflow.spec.reader import read_yaml

from .conftest import REPO

SHIPPED = sorted([*(REPO / "definitions").glob("*.yaml"), *(REPO / "gates").glob("*.yaml")])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["on", "no", "pm", "qa", "go", "kill", "10d", "0d", "P1D", "scoping", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="cdmo-hyp-"))
    for sub in ("definitions", "gates"):
        shutil.copytree(REPO / sub, root / sub)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _paths(data: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    if isinstance(data, dict):
        for k, v in data.items():
            out += [(k, *p) for p in _paths(v)]
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += [(i, *p) for p in _paths(v)]
    return out


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value if action != "drop" else None
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        data = dict(data)
        if not rest and action == "drop":
            data.pop(head, None)
        elif not rest and action == "insert":
            data[f"garbage-{head}"] = value
        else:
            data[head] = _mutate(data[head], rest, action, value)
    elif isinstance(data, list):
        data = list(data)
        if not rest and action == "drop":
            del data[head]
        elif not rest and action == "insert":
            data.insert(head, value)
        else:
            data[head] = _mutate(data[head], rest, action, value)
    return data


def _load(root: Path) -> None:
    try:
        result = load_catalog(root)
    except DefinitionError as exc:
        assert any(f.is_error for f in exc.findings)
        for f in exc.findings:
            assert f.line >= 1 and f.column >= 1 and str(f)
    else:
        assert isinstance(result, Catalog)
        for pid in result.processes:
            assert len(result.snapshot(pid).version_hash) == 64
    for f in validate_paths([root], base=root):
        assert f.severity in ("error", "warning")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.sampled_from(SHIPPED),
    st.data(),
    st.sampled_from(["drop", "replace", "insert"]),
    values,
)
def test_mutated_shipped_documents(
    work: Path, path: Path, data: st.DataObject, action: str, value: Any
) -> None:
    original = path.read_text(encoding="utf-8")
    doc = read_yaml(original).data
    target = data.draw(st.sampled_from(_paths(doc)))
    mutated = _mutate(doc, target, action, value)
    dest = work / path.parent.name / path.name
    try:
        dest.write_text(yaml.safe_dump(mutated, allow_unicode=True), encoding="utf-8")
        _load(work)
    finally:
        dest.write_text(original, encoding="utf-8")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(SHIPPED), st.integers(0, 4000), st.text(max_size=20))
def test_garbage_text_inserted(work: Path, path: Path, at: int, garbage: str) -> None:
    original = path.read_text(encoding="utf-8")
    at = min(at, len(original))
    dest = work / path.parent.name / path.name
    try:
        dest.write_text(original[:at] + garbage + original[at:], encoding="utf-8")
        _load(work)
    finally:
        dest.write_text(original, encoding="utf-8")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_crashes_the_reader(text: str) -> None:
    doc = read_yaml(text)
    for p in doc.problems:
        assert p.line >= 1 and p.column >= 1


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200))
def test_random_bytes_as_a_gate_file(work: Path, blob: bytes) -> None:
    dest = work / "gates" / "zz-random.yaml"
    try:
        dest.write_bytes(blob)
        _load(work)
    finally:
        dest.unlink()
