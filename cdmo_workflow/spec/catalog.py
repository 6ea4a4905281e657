"""The catalogue of usable processes and gates, their snapshots and version hashes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import DefinitionError, Finding, UnknownCalendarError, UnknownProcessError
from .models import (
    HASH_NEUTRAL_DEFAULTS,
    CalendarDef,
    GateDef,
    GitPin,
    ProcessDef,
    ProcessSnapshot,
)

LATER_PROCESS_FIELDS: dict[str, object] = {
    "calendar": None,
    "currency": None,
    "budget": None,
    "share_budget": False,
    "finance_role": None,
}
"""Process fields added after the first release, left out of the hash while at their default,
so that an unchanged YAML file keeps the version hash its running projects pinned."""


def hashed_dump(model: BaseModel) -> dict[str, Any]:
    """``model_dump(by_alias=True, mode="json")`` without the fields of
    :data:`~.models.HASH_NEUTRAL_DEFAULTS` that hold their default, at any depth: what the
    version hash covers, so a field added later leaves the hash of an unchanged file alone."""
    out: dict[str, Any] = model.model_dump(by_alias=True, mode="json")
    _prune(model, out)
    return out


def _prune(value: Any, dumped: Any) -> None:
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        neutral = HASH_NEUTRAL_DEFAULTS.get(type(value), {})
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            if key not in dumped:
                continue
            item = getattr(value, name)
            if name in neutral and item == neutral[name]:
                del dumped[key]
            else:
                _prune(item, dumped[key])
    elif isinstance(value, list | tuple) and isinstance(dumped, list):
        for item, sub in zip(value, dumped, strict=False):
            _prune(item, sub)
    elif isinstance(value, dict) and isinstance(dumped, dict):
        for key, item in value.items():
            if str(key) in dumped:
                _prune(item, dumped[str(key)])


def snapshot_hash(
    process: ProcessDef, gates: dict[str, GateDef], calendar: CalendarDef | None = None
) -> str:
    """SHA-256 hex of the canonical JSON of ``{process, gates}`` (sorted keys, no spaces;
    fields added later are left out while they hold their default, see :func:`hashed_dump`),
    plus ``calendar`` when the snapshot pins one."""
    doc: dict[str, object] = {
        "process": hashed_dump(process),
        "gates": {gid: hashed_dump(gates[gid]) for gid in sorted(gates)},
    }
    if calendar is not None:
        doc["calendar"] = calendar.model_dump(by_alias=True, mode="json")
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
        calendars: dict[str, CalendarDef] | None = None,
    ) -> None:
        self.root = root
        self.calendars = dict(calendars or {})
        """Valid site calendars by id (``calendars/<id>.yaml``)."""
        self.processes = processes
        self.gates = gates
        self.files = files
        self.warnings = list(warnings or [])
        self.errors = list(errors or [])
        """Errors in the tree; the processes they touch are left out (see ``spoiled``)."""
        self.spoiled = dict(spoiled or {})
        """process id -> the error findings that keep it from being used."""
        self._snapshots: dict[tuple[str, str | None], ProcessSnapshot] = {}

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

    def calendar(self, calendar_id: str) -> CalendarDef:
        """A valid calendar; :class:`UnknownCalendarError` naming the known ones."""
        try:
            return self.calendars[calendar_id]
        except KeyError:
            raise UnknownCalendarError(calendar_id, list(self.calendars)) from None

    def snapshot(self, process_id: str, calendar: str | None = None) -> ProcessSnapshot:
        """The process with its gates and its site calendar (``calendar`` overrides the
        process's own), hashed and (when in git) pinned to a commit."""
        proc = self.process(process_id)
        calendar_id = calendar or proc.calendar
        key = (process_id, calendar_id)
        cached = self._snapshots.get(key)
        if cached is not None:
            return cached
        gates = self.gates_of(process_id)
        cal = self.calendar(calendar_id) if calendar_id else None
        files = [self.files[("process", process_id)]]
        files += [self.files[("gate", gid)] for gid in sorted(gates)]
        if calendar_id:
            files.append(self.files[("calendar", calendar_id)])
        snap = ProcessSnapshot(
            process=proc,
            gates=gates,
            version_hash=snapshot_hash(proc, gates, cal),
            git=_git_pin(self.root, files),
            calendar=cal,
        )
        self._snapshots[key] = snap
        return snap


def load_catalog(root: Path | str, *, strict: bool = False) -> Catalog:
    """Load ``root/definitions`` and ``root/gates``.

    A broken file spoils only the processes it belongs to: every process whose own file and
    gate files have no error stays usable, and asking for a spoiled (or possibly broken and
    therefore unknown) process raises :class:`DefinitionError` with the findings behind it
    (see :meth:`Catalog.process`). With ``strict`` any error raises here at once.
    """
    from .scenario import SCENARIO_KIND
    from .scenario_checks import in_scenarios_folder
    from .validation import _check, _yaml_files

    root = Path(root)
    folders = [root / "definitions", root / "gates", root / "calendars"]
    if not folders[0].is_dir():
        raise DefinitionError(
            [Finding(root.as_posix(), 1, 1, "", "no definitions/ folder here", "error", "path")]
        )
    files: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            files.extend(_yaml_files(folder))
    # Scenarios are dry runs, not definitions: a project never starts on one, and a broken
    # scenario spoils no process (``cdmo validate`` and ``cdmo simulate`` report it).
    files = [f for f in files if not in_scenarios_folder(f)]
    result = _check(files, root)
    scenarios = {s.display for s in result.sources if s.kind == SCENARIO_KIND}
    findings = [f for f in result.findings if f.path not in scenarios]
    errors = [f for f in findings if f.is_error]
    if errors and strict:
        raise DefinitionError(findings)
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
    calendars: dict[str, CalendarDef] = {}
    for cid, src in result.calendars.items():
        if isinstance(src.model, CalendarDef) and src.display not in bad_files:
            calendars[cid] = src.model
            where[("calendar", cid)] = src.path
    for pid in list(processes):
        named = processes[pid].calendar
        if named is not None and named not in calendars:  # its file has errors
            csrc = result.calendars.get(named)
            spoiled[pid] = [f for f in errors if csrc and f.path == csrc.display] or errors
            del processes[pid]
    warnings = [f for f in findings if not f.is_error]
    return Catalog(
        root,
        processes,
        gates,
        where,
        warnings,
        errors=errors,
        spoiled=spoiled,
        calendars=calendars,
    )
