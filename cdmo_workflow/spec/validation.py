"""The file pipeline of the loader: one definition file at a time, then the whole tree.

Public API (other packages depend on these names):

* :func:`load_catalog` — load ``root/definitions`` and ``root/gates``; a process whose
  files have errors raises :class:`DefinitionError` when asked for (``strict=True``: any error
  raises at once), so one broken file does not stop the other processes.
* :func:`validate_paths` — every finding for some files or folders (what ``cdmo validate``
  prints).
* :class:`Finding`, :class:`Catalog` (``.processes``, ``.gates``, ``.snapshot(id)``).

The parts: ``reader`` (YAML to plain data, positions), this module (one file at a time, then
the whole tree), ``findings`` (sources and the report), ``translate`` (pydantic errors in
words), ``checks`` (cross-checks between files) and ``catalog`` (usable processes, snapshots,
version hashes). Import the public names from ``spec.loader``.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .calendar_checks import check_calendar_alone, check_process_calendar
from .checks import _check_gate_alone, _check_process, _raw_gate_refs
from .errors import DefinitionError, Finding
from .findings import _describe, _display, _Report, _Source
from .models import (
    SCHEMA_V1,
    CalendarDef,
    GateDef,
    ProcessDef,
)
from .reader import Document, read_yaml
from .scenario import SCENARIO_FOLDER, SCENARIO_KIND, ScenarioDef
from .scenario_checks import check_scenario, in_scenarios_folder, translate_scenario
from .translate import _translate

__all__ = [
    "DefinitionError",
    "Finding",
    "validate_paths",
]


YAML_SUFFIXES = (".yaml", ".yml")
KINDS: dict[str, type[ProcessDef] | type[GateDef] | type[ScenarioDef] | type[CalendarDef]] = {
    "process": ProcessDef,
    "gate": GateDef,
    SCENARIO_KIND: ScenarioDef,
    "calendar": CalendarDef,
}
"""A scenario (``definitions/scenarios/``) is a dry run of a process, never a definition."""
FOLDERS = ("definitions", "gates", "calendars")
"""The folders of a definitions tree; ``calendars/`` is optional."""


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def _definitions_root(path: Path) -> Path:
    """The folder holding ``definitions/`` for a path below ``definitions/scenarios/``."""
    full = Path(os.path.abspath(path))
    for parent in full.parents:
        if parent.name == "definitions":
            return parent.parent
    return full.parent  # pragma: no cover - only called for paths below definitions/


def _expand(paths: Sequence[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(requested files, context files, missing paths) for the given files and folders."""
    requested: list[Path] = []
    context: list[Path] = []
    missing: list[Path] = []

    def add_context(root: Path) -> None:
        for sub in FOLDERS:
            if (root / sub).is_dir():
                context.extend(_yaml_files(root / sub))

    for path in paths:
        if not path.exists():
            missing.append(path)
        elif path.is_dir():
            subs = [path / s for s in FOLDERS if (path / s).is_dir()]
            if subs:
                for sub in subs:
                    requested.extend(_yaml_files(sub))
            else:
                requested.extend(_yaml_files(path))
                if path.name in FOLDERS:
                    add_context(path.parent)
                elif in_scenarios_folder(path / "x"):
                    add_context(_definitions_root(path / "x"))
        else:
            requested.append(path)
            if path.parent.name in FOLDERS:
                add_context(path.parent.parent)
            elif in_scenarios_folder(path):  # a scenario is checked against its process
                add_context(_definitions_root(path))
    seen: set[str] = set()
    req = []
    for p in requested:
        r = os.path.realpath(p)
        if r not in seen:
            seen.add(r)
            req.append(p)
    ctx = []
    for p in context:
        r = os.path.realpath(p)
        if r not in seen:
            seen.add(r)
            ctx.append(p)
    return req, ctx, missing


# --------------------------------------------------------------------------- one file


def _read(src: _Source, report: _Report) -> None:
    """Read and validate one file on its own; sets ``src.model`` when it is valid."""
    try:
        data = src.path.read_bytes()
    except OSError as exc:
        report.add(src, (), f"cannot read file: {exc.strerror or exc}", "io")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.add(src, (), "file is not UTF-8 text", "encoding")
        return
    src.doc = doc = read_yaml(text)
    for p in doc.problems:
        report.findings.append(
            Finding(src.display, p.line, p.column, p.field, p.message, "error", p.rule)
        )
    # Problems of single values (a bad tag, a number out of range, a duplicate key) leave the
    # rest of the document readable: it is still validated, so one run reports every finding.
    # Findings of the schema at a value the reader already refused are not repeated.
    refused = {p.field for p in doc.problems}
    if doc.problems and (not isinstance(doc.data, dict) or "" in refused):
        return
    start = len(report.findings)
    _validate(src, doc, report)
    if refused:
        report.findings[start:] = [
            f for f in report.findings[start:] if not _below_any(f.field, refused)
        ]


def _below_any(field: str, fields: set[str]) -> bool:
    return any(
        field == f
        or field.startswith((f + ".", f + "["))
        or f.startswith((field + ".", field + "["))
        for f in fields
    )


def _validate(src: _Source, doc: Document, report: _Report) -> None:
    if not isinstance(doc.data, dict):
        found = "an empty file" if doc.data is None else _describe(doc.data)
        report.add(
            src,
            (),
            f"expected a mapping (schema, kind, id, ...) at the top of the file, found {found}",
            "not-a-mapping",
        )
        return
    data_map: dict[Hashable, Any] = doc.data
    raw_id = data_map.get("id")
    src.raw_id = raw_id if isinstance(raw_id, str) else None
    schema = data_map.get("schema")
    if "schema" not in data_map:
        report.add(
            src,
            (),
            f"required field 'schema' is missing (add 'schema: {SCHEMA_V1}')",
            "schema",
            field_name="schema",
        )
    elif schema != SCHEMA_V1:
        report.add(
            src, ("schema",), f"unsupported schema {schema!r}: expected '{SCHEMA_V1}'", "schema"
        )
    kind = data_map.get("kind")
    if in_scenarios_folder(src.path) and kind != SCENARIO_KIND:
        src.kind = SCENARIO_KIND  # never read as a process or a gate
        report.add(
            src,
            ("kind",) if "kind" in data_map else (),
            f"files in definitions/{SCENARIO_FOLDER}/ are scenarios: expected "
            f"'kind: {SCENARIO_KIND}'" + (f", found {kind!r}" if "kind" in data_map else ""),
            "kind",
            field_name="kind",
        )
        return
    if not isinstance(kind, str) or kind not in KINDS:
        if "kind" not in data_map:
            report.add(
                src,
                (),
                "required field 'kind' is missing (process, gate or calendar)",
                "kind",
                field_name="kind",
            )
        else:
            report.add(
                src,
                ("kind",),
                f"unknown kind {kind!r}: expected 'process', 'gate' or 'calendar'",
                "kind",
            )
        return
    src.kind = str(kind)
    model_cls = KINDS[src.kind]
    try:
        model = model_cls.model_validate(data_map)
    except ValidationError as exc:
        if model_cls is ScenarioDef:
            translate_scenario(src, exc, report)
        else:
            _translate(src, model_cls, exc, report)
        return
    if schema == SCHEMA_V1:
        src.model = model


# --------------------------------------------------------------------------- cross-checks
@dataclass
class _Result:
    findings: list[Finding]
    sources: list[_Source]
    processes: dict[str, _Source]
    gates: dict[str, _Source]
    calendars: dict[str, _Source]


def _check(files: Sequence[Path], base: Path) -> _Result:
    report = _Report()
    sources = [_Source(path=p, display=_display(p, base)) for p in files]
    for src in sources:
        _read(src, report)

    processes: dict[str, _Source] = {}
    gates: dict[str, _Source] = {}
    calendars: dict[str, _Source] = {}
    # Gates whose file has errors of its own: processes naming them get no second finding.
    broken_gates: set[str] = set()
    for src in sources:
        if src.model is None and (src.kind == "gate" or src.path.parent.name == "gates"):
            broken_gates.add(src.path.name.rsplit(".", 1)[0])
            if src.raw_id is not None:
                broken_gates.add(src.raw_id)

    # A file whose name matches its id keeps the id; a copy elsewhere is the duplicate.
    def primary_first(src: _Source) -> int:
        return 0 if src.path.name.rsplit(".", 1)[0] == src.raw_id else 1

    for src in sorted(sources, key=primary_first):
        if src.kind is None or src.kind == SCENARIO_KIND or src.raw_id is None:
            continue
        table = {"process": processes, "gate": gates, "calendar": calendars}[src.kind]
        prior = table.get(src.raw_id)
        if prior is not None:
            line = prior.doc.mark(("id",))[0]
            report.add(
                src,
                ("id",),
                f"duplicate {src.kind} id {src.raw_id!r} (already defined in "
                f"{prior.display}:{line})",
                "duplicate-id",
            )
            continue
        table[src.raw_id] = src

    for src in gates.values():
        if isinstance(src.model, GateDef):
            _check_gate_alone(src, src.model, report)
    for src in calendars.values():
        if isinstance(src.model, CalendarDef):
            check_calendar_alone(src, src.model, report)

    used: set[str] = set()
    for src in processes.values():
        if isinstance(src.model, ProcessDef):
            used.update(p.gate for p in src.model.phases)
            _check_process(src, src.model, gates, broken_gates, report)
            check_process_calendar(src, src.model, calendars, report)
        else:
            used.update(_raw_gate_refs(src))
    for src in sources:
        if isinstance(src.model, ScenarioDef):
            _check_scenario_source(src, src.model, processes, gates, report)
    if processes:
        for gid, src in gates.items():
            if gid not in used:
                report.add(
                    src,
                    ("id",),
                    f"gate {gid!r} is not used by any process",
                    "unused-gate",
                    severity="warning",
                )
    findings = sorted(set(report.findings), key=lambda f: (f.path, f.line, f.column, f.message))
    return _Result(findings, sources, processes, gates, calendars)


def _check_scenario_source(
    src: _Source,
    scenario: ScenarioDef,
    processes: dict[str, _Source],
    gates: dict[str, _Source],
    report: _Report,
) -> None:
    """A scenario against its process. While the process (or a gate it uses) does not
    validate, its own findings say why and the scenario waits: nothing is said twice."""
    psrc = processes.get(scenario.process)
    if psrc is None:
        check_scenario(src, scenario, None, {}, report, known_processes=list(processes))
        return
    process = psrc.model
    if not isinstance(process, ProcessDef):
        return
    used = [p.gate for p in process.phases]
    valid = {g: m for g in used if g in gates and isinstance(m := gates[g].model, GateDef)}
    if len(valid) == len(used):
        check_scenario(src, scenario, process, valid, report)


# --------------------------------------------------------------------------- public API


def validate_paths(paths: list[Path], *, base: Path | None = None) -> list[Finding]:
    """Every finding for the given files and folders, sorted by file, line and column.

    A folder holding ``definitions/`` and ``gates/`` is read whole. A single file inside such
    a tree is checked against its siblings (so gate references resolve) but only findings in
    the requested files are returned. Paths are shown relative to ``base`` (default: the
    current directory) when they sit below it. A missing path is itself a finding.
    """
    base = Path.cwd() if base is None else Path(base)
    requested, context, missing = _expand([Path(p) for p in paths])
    result = _check([*requested, *context], base)
    wanted = {_display(p, base) for p in requested}
    out = [f for f in result.findings if f.path in wanted]
    for p in missing:
        out.append(Finding(p.as_posix(), 1, 1, "", "no such file or folder", "error", "path"))
    return out
