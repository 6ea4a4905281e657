"""The catalogue of usable processes and gates, their snapshots and version hashes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from .errors import DefinitionError, Finding, UnknownProcessError
from .models import (
    GateDef,
    GitPin,
    ProcessDef,
    ProcessSnapshot,
)


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
    from .validation import _check, _yaml_files

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
