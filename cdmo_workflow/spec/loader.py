"""Load definition files into frozen models, cross-check them, and pin versions.

Public API (other packages depend on these names):

* :func:`load_catalog` — load ``root/definitions`` and ``root/gates``; a process whose
  files have errors raises :class:`DefinitionError` when asked for (``strict=True``: any error
  raises at once), so one broken file does not stop the other processes.
* :func:`validate_paths` — every finding for some files or folders (what ``cdmo validate``
  prints).
* :class:`Finding`, :class:`Catalog` (``.processes``, ``.gates``, ``.snapshot(id)``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import subprocess
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from . import graph as g
from .durations import DURATION_PATTERN, DurationError
from .errors import DefinitionError, Finding, Severity, UnknownProcessError
from .models import (
    ID_PATTERN,
    MAX_QUOTA,
    SCHEMA_V1,
    CheckDef,
    Decision,
    DeliverableDef,
    GateDef,
    GitPin,
    MessageTemplate,
    NotifyEvent,
    PhaseDef,
    ProcessDef,
    ProcessSnapshot,
    SignoffQuota,
    Sla,
)
from .reader import Document, format_path, read_yaml
from .reader import Path as DocPath

__all__ = [
    "Catalog",
    "DefinitionError",
    "Finding",
    "load_catalog",
    "snapshot_hash",
    "validate_paths",
]

YAML_SUFFIXES = (".yaml", ".yml")
KINDS: dict[str, type[ProcessDef] | type[GateDef]] = {"process": ProcessDef, "gate": GateDef}

_CONTAINERS: dict[str, type[BaseModel]] = {
    "phases": PhaseDef,
    "deliverables": DeliverableDef,
    "checks": CheckDef,
    "signoffs": SignoffQuota,
    "sla": Sla,
    "messages": MessageTemplate,
}


# --------------------------------------------------------------------------- sources


@dataclass
class _Source:
    """One file: where it is, what was read, and the model when it validated."""

    path: Path
    display: str
    doc: Document = field(default_factory=Document)
    kind: str | None = None
    raw_id: str | None = None
    model: ProcessDef | GateDef | None = None


class _Report:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def add(
        self,
        src: _Source,
        path: DocPath,
        message: str,
        rule: str,
        *,
        key: bool = False,
        severity: Severity = "error",
        field_name: str | None = None,
    ) -> None:
        line, column = src.doc.mark(path, key=key)
        self.findings.append(
            Finding(
                path=src.display,
                line=line,
                column=column,
                field=format_path(path) if field_name is None else field_name,
                message=message,
                severity=severity,
                rule=rule,
            )
        )


def _display(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when below it, else as given (always with ``/``)."""
    full = os.path.abspath(path)
    root = os.path.abspath(base)
    if full == root or full.startswith(root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(full, root)).as_posix()
    return path.as_posix()


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())


def _expand(paths: Sequence[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(requested files, context files, missing paths) for the given files and folders."""
    requested: list[Path] = []
    context: list[Path] = []
    missing: list[Path] = []

    def add_context(root: Path) -> None:
        for sub in ("definitions", "gates"):
            if (root / sub).is_dir():
                context.extend(_yaml_files(root / sub))

    for path in paths:
        if not path.exists():
            missing.append(path)
        elif path.is_dir():
            subs = [path / s for s in ("definitions", "gates") if (path / s).is_dir()]
            if subs:
                for sub in subs:
                    requested.extend(_yaml_files(sub))
            else:
                requested.extend(_yaml_files(path))
                if path.name in ("definitions", "gates"):
                    add_context(path.parent)
        else:
            requested.append(path)
            if path.parent.name in ("definitions", "gates"):
                add_context(path.parent.parent)
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


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _model_at(top: type[BaseModel], loc: DocPath) -> type[BaseModel]:
    """The model that holds the field at ``loc`` (for suggestions of allowed field names)."""
    parents = [p for p in loc[:-1] if isinstance(p, str)]
    for depth, name in enumerate(reversed(parents), start=1):
        # ``messages.<event>.<field>``: that container is two names up.
        if name in _CONTAINERS and (name != "messages" or depth == 2):
            return _CONTAINERS[name]
    return top


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _translate(src: _Source, top: type[BaseModel], exc: ValidationError, report: _Report) -> None:
    for err in exc.errors(include_url=False):
        loc: DocPath = tuple(err["loc"])
        kind = err["type"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        key = False
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            key = True
        last = loc[-1] if loc else ""
        if loc[:1] in (("schema",), ("kind",)) and len(loc) == 1:
            continue  # reported in words by _check_header
        rule = "type"
        if kind == "missing":
            line, column = src.doc.mark(loc[:-1])
            report.findings.append(
                Finding(
                    src.display,
                    line,
                    column,
                    format_path(loc),
                    f"required field '{last}' is missing",
                    "error",
                    "missing",
                )
            )
            continue
        if kind == "extra_forbidden":
            allowed = _field_names(_model_at(top, loc))
            hint = difflib.get_close_matches(str(last), allowed, n=1)
            text = f"unknown field '{last}'"
            text += f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(allowed)})"
            report.add(src, loc, text, "unknown-field", key=True)
            continue
        if kind == "string_pattern_mismatch":
            pattern = ctx.get("pattern")
            if pattern == DURATION_PATTERN:
                text, rule = str(DurationError(str(value))), "duration"
            elif pattern == ID_PATTERN:
                what = "key" if key else "id"
                text = (
                    f"{value!r} is not a valid {what}: use lowercase letters, digits and single "
                    "dashes (e.g. 'tech-transfer')"
                )
                rule = "id"
            else:  # pragma: no cover - no other patterns in the models
                text = err["msg"]
        elif kind == "value_error":
            text = err["msg"].removeprefix("Value error, ")
            rule = "duration" if "duration" in text else "value"
        elif kind == "enum":
            choices = ", ".join(d.value for d in Decision)
            text, rule = f"unknown decision {value!r} (allowed: {choices})", "decision"
        elif kind == "literal_error":
            expected = str(ctx.get("expected", ""))
            if key and len(loc) >= 2 and loc[-2] in ("notify", "messages"):
                text = f"unknown event {last!r} (events: {', '.join(get_args(NotifyEvent))})"
                rule = "event"
            else:
                text = f"{value!r} is not allowed here (expected {expected})"
        elif kind == "greater_than_equal":
            if last == "min":
                text, rule = f"min must be at least 1 (got {value})", "quota-min"
            else:  # pragma: no cover - only ``min`` has a bound
                text = f"must be at least {ctx.get('ge')} (got {value})"
        elif kind == "less_than_equal":
            if last == "min":
                text = f"min is out of range: at most {MAX_QUOTA} signers (got {value})"
                rule = "quota-range"
            else:  # pragma: no cover - only ``min`` has a bound
                text = f"must be at most {ctx.get('le')} (got {value})"
        elif kind == "string_type":
            text = f"expected text, got {_describe(value)}"
            if isinstance(value, bool | int | float) and value is not None:
                text += " (put it in quotes)"
        elif kind in ("bool_type", "bool_parsing"):
            text = f"expected true or false, got {_describe(value)}"
        elif kind in ("int_type", "int_parsing", "int_from_float"):
            text = f"expected a whole number, got {_describe(value)}"
        elif kind == "list_type":
            text = f"expected a list, got {_describe(value)}"
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            text = f"expected a mapping, got {_describe(value)}"
        elif kind == "too_short":
            need = ctx.get("min_length", 1)
            text = "must not be empty" if need == 1 else f"needs at least {need} items"
            rule = "empty"
        elif kind == "string_too_short":
            text, rule = "must not be empty", "empty"
        elif kind == "string_too_long":
            text = f"is too long (at most {ctx.get('max_length')} characters)"
        else:
            text = err["msg"]
        report.add(src, loc, text, rule, key=key)


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
    if not isinstance(kind, str) or kind not in KINDS:
        if "kind" not in data_map:
            report.add(
                src,
                (),
                "required field 'kind' is missing (process or gate)",
                "kind",
                field_name="kind",
            )
        else:
            report.add(
                src, ("kind",), f"unknown kind {kind!r}: expected 'process' or 'gate'", "kind"
            )
        return
    src.kind = str(kind)
    model_cls = KINDS[src.kind]
    try:
        model = model_cls.model_validate(data_map)
    except ValidationError as exc:
        _translate(src, model_cls, exc, report)
        return
    if schema == SCHEMA_V1:
        src.model = model


# --------------------------------------------------------------------------- cross-checks


def _dups(
    src: _Source,
    report: _Report,
    items: Iterable[tuple[DocPath, str]],
    what: str,
    where: str = "",
) -> None:
    first: dict[str, DocPath] = {}
    for path, ident in items:
        if ident in first:
            line = src.doc.mark(first[ident])[0]
            text = f"duplicate {what} {ident!r}{where} (first at line {line})"
            report.add(src, path, text, "duplicate-id")
        else:
            first[ident] = path


def _check_gate_alone(src: _Source, gate: GateDef, report: _Report) -> None:
    _dups(src, report, ((("checks", i, "id"), c.id) for i, c in enumerate(gate.checks)), "check id")
    _dups(
        src,
        report,
        ((("signoffs", i, "role"), q.role) for i, q in enumerate(gate.signoffs)),
        "sign-off quota for role",
    )
    _dups(
        src, report, ((("decisions", i), d.value) for i, d in enumerate(gate.decisions)), "decision"
    )
    if Decision.GO not in gate.decisions:
        report.add(
            src,
            ("decisions",),
            "decisions must include 'go', or the gate can never pass",
            "decision",
        )
    if gate.recycle_to is not None and Decision.RECYCLE not in gate.decisions:
        report.add(
            src,
            ("recycle_to",),
            "recycle_to is set but 'recycle' is not an allowed decision",
            "recycle-to",
            severity="warning",
        )
    stem = src.path.name.rsplit(".", 1)[0]
    if stem != gate.id:
        report.add(
            src,
            ("id",),
            f"gate id {gate.id!r} does not match the file name {src.path.name!r} "
            f"(expected {gate.id}.yaml)",
            "file-name",
            severity="warning",
        )


def _gate_roles(gate: GateDef) -> list[tuple[DocPath, str]]:
    out: list[tuple[DocPath, str]] = []
    out += [(("checks", i, "confirmed_by"), c.confirmed_by) for i, c in enumerate(gate.checks)]
    out += [(("signoffs", i, "role"), q.role) for i, q in enumerate(gate.signoffs)]
    if gate.sla is not None:
        out += [(("sla", "escalate_to", i), r) for i, r in enumerate(gate.sla.escalate_to)]
    for event, roles in gate.notify.items():
        out += [(("notify", event, i), r) for i, r in enumerate(roles)]
    return out


def _check_process(
    src: _Source,
    proc: ProcessDef,
    gates: dict[str, _Source],
    broken_gates: set[str],
    report: _Report,
) -> None:
    declared = set(proc.roles)
    roles_text = ", ".join(sorted(declared))

    def role(s: _Source, path: DocPath, name: str, what: str = "role") -> None:
        if name not in declared:
            hint = difflib.get_close_matches(name, sorted(declared), n=1)
            extra = f"; did you mean '{hint[0]}'?" if hint else ""
            if s is src:
                text = f"unknown {what} {name!r} (declared roles: {roles_text}{extra})"
            else:
                text = f"unknown {what} {name!r} (process {proc.id} declares: {roles_text}{extra})"
            report.add(s, path, text, "undeclared-role")

    if proc.manager_role not in declared:
        report.add(
            src,
            ("manager_role",) if "manager_role" in src.doc.data else ("roles",),
            f"manager role {proc.manager_role!r} is not declared in roles (declared: {roles_text})",
            "undeclared-role",
            field_name="manager_role",
        )
    if proc.admin_role is not None:
        role(src, ("admin_role",), proc.admin_role, "admin role")
    for event, names in proc.notify.items():
        for i, name in enumerate(names):
            role(src, ("notify", event, i), name)

    phase_ids = [p.id for p in proc.phases]
    _dups(src, report, ((("phases", i, "id"), p.id) for i, p in enumerate(proc.phases)), "phase id")
    index: dict[str, int] = {}
    for i, p in enumerate(proc.phases):
        index.setdefault(p.id, i)
    known = set(phase_ids)
    graph = {p.id: list(p.after) for p in reversed(proc.phases)}  # first definition wins
    graph = {pid: graph[pid] for pid in dict.fromkeys(phase_ids)}
    waits_unknown: set[str] = set()
    for i, p in enumerate(proc.phases):
        role(src, ("phases", i, "owner"), p.owner)
        _dups(
            src,
            report,
            ((("phases", i, "deliverables", j, "id"), d.id) for j, d in enumerate(p.deliverables)),
            "deliverable id",
            f" in phase '{p.id}'",
        )
        for j, d in enumerate(p.deliverables):
            role(src, ("phases", i, "deliverables", j, "owner"), d.owner)
        for j, dep in enumerate(p.after):
            if dep not in known:
                waits_unknown.add(p.id)
                hint = difflib.get_close_matches(dep, phase_ids, n=1)
                extra = f"did you mean '{hint[0]}'?" if hint else f"phases: {', '.join(phase_ids)}"
                report.add(
                    src,
                    ("phases", i, "after", j),
                    f"unknown phase {dep!r} ({extra})",
                    "unknown-phase",
                )

    # Cycles: report each distinct cycle once, at the `after` entry that closes it.
    work = {pid: list(after) for pid, after in graph.items()}
    in_cycle: set[str] = set()
    for _ in range(len(work) + 1):
        cycle = g.find_cycle(work)
        if cycle is None:
            break
        in_cycle.update(cycle)
        head, tail = cycle[0], cycle[-2]
        # cycle runs head -> ... -> tail -> head: head.after names tail.
        i = index[head]
        j = proc.phases[i].after.index(tail)
        report.add(
            src, ("phases", i, "after", j), "phases form a cycle: " + " -> ".join(cycle), "cycle"
        )
        work[head] = [d for d in work[head] if d != tail]
    reachable = set(g.reachable_order(graph))
    for pid in graph:
        if pid in reachable or pid in in_cycle or pid in waits_unknown:
            continue
        blockers = [d for d in graph[pid] if d not in reachable]
        report.add(
            src,
            ("phases", index[pid], "after"),
            f"phase {pid!r} can never start: it waits for "
            + ", ".join(repr(b) for b in blockers)
            + ", which can never start",
            "unreachable",
        )

    # Final phases are only meaningful once the graph is sound.
    sound = not in_cycle and not waits_unknown and len(set(phase_ids)) == len(phase_ids)
    finals = set(g.final_phases(graph)) if sound else set()
    used: dict[str, str] = {}
    for i, p in enumerate(proc.phases):
        if p.gate in used:
            report.add(
                src,
                ("phases", i, "gate"),
                f"gate {p.gate!r} already ends phase {used[p.gate]!r}; within one process "
                "a gate may end only one phase",
                "gate-reused",
            )
            continue
        used[p.gate] = p.id
        gsrc = gates.get(p.gate)
        if gsrc is None or not isinstance(gsrc.model, GateDef):
            if p.gate not in broken_gates:
                defined = ", ".join(sorted(gates)) or "none"
                report.add(
                    src,
                    ("phases", i, "gate"),
                    f"gate {p.gate!r} is not defined (expected gates/{p.gate}.yaml; "
                    f"defined gates: {defined})",
                    "undefined-gate",
                )
            continue
        gate = gsrc.model
        for path, name in _gate_roles(gate):
            role(gsrc, path, name)
        if gate.recycle_to is not None:
            if gate.recycle_to not in known:
                report.add(
                    gsrc,
                    ("recycle_to",),
                    f"unknown phase {gate.recycle_to!r}: process {proc.id} has no such "
                    f"phase (phases: {', '.join(phase_ids)})",
                    "unknown-phase",
                )
            elif gate.recycle_to != p.id and gate.recycle_to not in g.upstream(graph, p.id):
                report.add(
                    gsrc,
                    ("recycle_to",),
                    f"recycle_to {gate.recycle_to!r} must be the gated phase {p.id!r} or "
                    f"a phase before it in process {proc.id}",
                    "recycle-to",
                )
        if p.id in finals and Decision.CONDITIONAL_GO in gate.decisions:
            data = gsrc.doc.data
            if isinstance(data, dict) and "decisions" in data:
                where: DocPath = ("decisions", gate.decisions.index(Decision.CONDITIONAL_GO))
                how = "remove it from decisions"
            else:
                where = ("id",)
                how = "list decisions without it, e.g. [go, hold, recycle, kill]"
            report.add(
                gsrc,
                where,
                f"conditional-go is not allowed at the final gate of process {proc.id} "
                f"(phase {p.id!r} has no later gate to check its conditions): {how}",
                "final-conditional-go",
                field_name="decisions",
            )


def _raw_gate_refs(src: _Source) -> set[str]:
    """Gate ids named by a process file that did not validate (best effort)."""
    out: set[str] = set()
    data = src.doc.data
    phases = data.get("phases") if isinstance(data, dict) else None
    if isinstance(phases, list):
        for p in phases:
            if isinstance(p, dict) and isinstance(p.get("gate"), str):
                out.add(p["gate"])
    return out


@dataclass
class _Result:
    findings: list[Finding]
    sources: list[_Source]
    processes: dict[str, _Source]
    gates: dict[str, _Source]


def _check(files: Sequence[Path], base: Path) -> _Result:
    report = _Report()
    sources = [_Source(path=p, display=_display(p, base)) for p in files]
    for src in sources:
        _read(src, report)

    processes: dict[str, _Source] = {}
    gates: dict[str, _Source] = {}
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
        if src.kind is None or src.raw_id is None:
            continue
        table = processes if src.kind == "process" else gates
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

    used: set[str] = set()
    for src in processes.values():
        if isinstance(src.model, ProcessDef):
            used.update(p.gate for p in src.model.phases)
            _check_process(src, src.model, gates, broken_gates, report)
        else:
            used.update(_raw_gate_refs(src))
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
    return _Result(findings, sources, processes, gates)


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


def snapshot_hash(process: ProcessDef, gates: dict[str, GateDef]) -> str:
    """SHA-256 hex of the canonical JSON of ``{process, gates}`` (sorted keys, no spaces)."""
    doc = {
        "process": process.model_dump(by_alias=True, mode="json"),
        "gates": {gid: gates[gid].model_dump(by_alias=True, mode="json") for gid in sorted(gates)},
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _git_pin(root: Path, files: list[Path]) -> GitPin | None:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=False,
        )
        if head.returncode != 0 or not head.stdout.strip():
            return None
        status = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=all",
                "--",
                *[str(f.resolve()) for f in files],
            ],
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    return GitPin(commit=head.stdout.strip(), dirty=bool(status.stdout.strip()))


class Catalog:
    """Every valid process and gate of a definitions tree."""

    def __init__(
        self,
        root: Path,
        processes: dict[str, ProcessDef],
        gates: dict[str, GateDef],
        files: dict[tuple[str, str], Path],
        warnings: list[Finding] | None = None,
        *,
        errors: list[Finding] | None = None,
        spoiled: dict[str, list[Finding]] | None = None,
    ) -> None:
        self.root = root
        self.processes = processes
        self.gates = gates
        self.files = files
        self.warnings = list(warnings or [])
        self.errors = list(errors or [])
        """Errors in the tree; the processes they touch are left out (see ``spoiled``)."""
        self.spoiled = dict(spoiled or {})
        """process id -> the error findings that keep it from being used."""
        self._snapshots: dict[str, ProcessSnapshot] = {}

    def process(self, process_id: str) -> ProcessDef:
        """The process; :class:`DefinitionError` when its files (or its gates') have errors,
        or when it is unknown while some file could not be read; else
        :class:`UnknownProcessError` naming the known ones."""
        try:
            return self.processes[process_id]
        except KeyError:
            pass
        if process_id in self.spoiled:
            raise DefinitionError(self.spoiled[process_id])
        if self.errors:  # it may be the process of a file too broken to tell its id
            raise DefinitionError(self.errors)
        raise UnknownProcessError(process_id, list(self.processes))

    def gates_of(self, process_id: str) -> dict[str, GateDef]:
        """The gates a process uses, by id."""
        proc = self.process(process_id)
        return {p.gate: self.gates[p.gate] for p in proc.phases}

    def snapshot(self, process_id: str) -> ProcessSnapshot:
        """The process with its gates, hashed and (when in git) pinned to a commit."""
        cached = self._snapshots.get(process_id)
        if cached is not None:
            return cached
        proc = self.process(process_id)
        gates = self.gates_of(process_id)
        files = [self.files[("process", process_id)]]
        files += [self.files[("gate", gid)] for gid in sorted(gates)]
        snap = ProcessSnapshot(
            process=proc,
            gates=gates,
            version_hash=snapshot_hash(proc, gates),
            git=_git_pin(self.root, files),
        )
        self._snapshots[process_id] = snap
        return snap


def load_catalog(root: Path | str, *, strict: bool = False) -> Catalog:
    """Load ``root/definitions`` and ``root/gates``.

    A broken file spoils only the processes it belongs to: every process whose own file and
    gate files have no error stays usable, and asking for a spoiled (or possibly broken and
    therefore unknown) process raises :class:`DefinitionError` with the findings behind it
    (see :meth:`Catalog.process`). With ``strict`` any error raises here at once.
    """
    root = Path(root)
    folders = [root / "definitions", root / "gates"]
    if not folders[0].is_dir():
        raise DefinitionError(
            [Finding(root.as_posix(), 1, 1, "", "no definitions/ folder here", "error", "path")]
        )
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            files.extend(_yaml_files(folder))
    result = _check(files, root)
    errors = [f for f in result.findings if f.is_error]
    if errors and strict:
        raise DefinitionError(result.findings)
    bad_files = {f.path for f in errors}
    processes: dict[str, ProcessDef] = {}
    gates: dict[str, GateDef] = {}
    where: dict[tuple[str, str], Path] = {}
    spoiled: dict[str, list[Finding]] = {}
    for gid, src in result.gates.items():
        if isinstance(src.model, GateDef) and src.display not in bad_files:
            gates[gid] = src.model
            where[("gate", gid)] = src.path
    for pid, src in result.processes.items():
        own = [src.display]
        if isinstance(src.model, ProcessDef):
            used = [p.gate for p in src.model.phases]
            own += [result.gates[g].display for g in used if g in result.gates]
            usable = src.display not in bad_files and all(g in gates for g in used)
        else:
            usable = False
        if usable and isinstance(src.model, ProcessDef):
            processes[pid] = src.model
            where[("process", pid)] = src.path
        else:
            spoiled[pid] = [f for f in errors if f.path in own] or errors
    warnings = [f for f in result.findings if not f.is_error]
    return Catalog(root, processes, gates, where, warnings, errors=errors, spoiled=spoiled)
