"""Definitions at a version: a folder, or a git revision read without checking it out.

A git revision is exported with ``git archive`` (only ``definitions/`` and ``gates/`` below
the definitions folder) into a temporary folder that is loaded like any tree and removed at
once; the work tree, the index and ``HEAD`` are never touched. The revision is resolved with
``--end-of-options`` and refused when it starts with a dash, so it can never be read as an
option. Findings of a version that does not validate name their file as ``REF:path``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from .catalog import load_catalog
from .errors import DefinitionError, Finding
from .models import GateDef, GitPin, ProcessDef, ProcessSnapshot

GIT_TIMEOUT = 30


class VersionError(Exception):
    """A version that cannot be read (``unknown-version``) or does not validate
    (``invalid-version``); ``findings`` holds the file:line:column findings of the latter."""

    def __init__(self, rule: str, message: str, findings: list[Finding] | None = None) -> None:
        self.rule = rule
        self.message = message
        self.findings = list(findings or [])
        super().__init__(message)


@dataclass
class Version:
    """The usable processes and gates of one version, with their snapshots."""

    ref: str
    kind: str
    """``folder`` or ``git``."""
    commit: str | None
    processes: dict[str, ProcessDef]
    gates: dict[str, GateDef]
    snapshots: dict[str, ProcessSnapshot]
    errors: list[Finding] = field(default_factory=list)
    spoiled: dict[str, list[Finding]] = field(default_factory=dict)
    warnings: list[Finding] = field(default_factory=list)

    def snapshot(self, process_id: str) -> ProcessSnapshot:
        """The process at this version, or :class:`VersionError` (unknown, or invalid with its
        findings)."""
        snap = self.snapshots.get(process_id)
        if snap is not None:
            return snap
        findings = self.spoiled.get(process_id) or (self.errors if self.errors else [])
        if findings:
            first = findings[0]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            raise VersionError(
                "invalid-version",
                f"version {self.ref} of process {process_id} does not validate: {first}{more}",
                findings,
            )
        known = ", ".join(sorted(self.processes)) or "none"
        raise VersionError(
            "unknown-version",
            f"version {self.ref} has no process {process_id} (it has: {known})",
        )

    def describe(self) -> dict[str, str | None]:
        return {"ref": self.ref, "kind": self.kind, "commit": self.commit}


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", "-C", str(cwd), *args],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        env=env,
        check=False,
    )


def _check_ref(ref: str) -> None:
    if not ref or not ref.strip() or ref != ref.strip():
        raise VersionError("unknown-version", f"version reference {ref!r} is empty or padded")
    if ref.startswith("-") or any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise VersionError(
            "unknown-version",
            f"version reference {ref!r} may not start with a dash or hold control characters",
        )


def _relabel(findings: list[Finding], root: Path, label: str) -> list[Finding]:
    """Findings in a temporary folder, named ``REF:path`` instead of the folder's path."""
    base = os.path.abspath(root).rstrip(os.sep) + os.sep
    out = []
    for f in findings:  # paths are relative to the loaded folder, or absolute
        path = f.path
        if not os.path.isabs(path):
            path = label + path
        elif os.path.abspath(path).startswith(base):
            path = label + Path(os.path.abspath(path)[len(base) :]).as_posix()
        out.append(replace(f, path=path))
    return out


def _load(root: Path, ref: str, kind: str, commit: str | None, label: str | None) -> Version:
    try:
        catalog = load_catalog(root)
    except DefinitionError as exc:
        findings = _relabel(exc.findings, root, label) if label else exc.findings
        raise VersionError(
            "invalid-version",
            f"version {ref} cannot be read: {findings[0] if findings else exc}",
            findings,
        ) from None
    snaps: dict[str, ProcessSnapshot] = {}
    for pid in catalog.processes:
        snap = catalog.snapshot(pid)
        if commit is not None:
            snap = snap.model_copy(update={"git": GitPin(commit=commit, dirty=False)})
        snaps[pid] = snap

    def fix(found: list[Finding]) -> list[Finding]:
        return _relabel(found, root, label) if label else found

    return Version(
        ref=ref,
        kind=kind,
        commit=commit,
        processes=dict(catalog.processes),
        gates=dict(catalog.gates),
        snapshots=snaps,
        errors=fix(catalog.errors),
        spoiled={pid: fix(f) for pid, f in catalog.spoiled.items()},
        warnings=fix(catalog.warnings),
    )


def load_version(ref: str, definitions_dir: Path, *, allow_folder: bool = True) -> Version:
    """The definitions at ``ref``: a folder holding ``definitions/`` (when ``allow_folder``),
    else a git revision of the repository that holds ``definitions_dir``."""
    _check_ref(ref)
    folder = Path(ref)
    if allow_folder and folder.is_dir():
        if not (folder / "definitions").is_dir():
            raise VersionError("unknown-version", f"folder {ref} holds no definitions/ folder")
        return _load(folder, ref, "folder", None, ref.rstrip("/") + "/")
    base = Path(definitions_dir)
    top = _git(["rev-parse", "--show-toplevel"], base) if base.is_dir() else None
    if top is None or top.returncode != 0:
        where = "a folder with definitions/" if allow_folder else "a git revision"
        raise VersionError(
            "unknown-version",
            f"{ref!r} is not {where}, and {base} is not in a git repository",
        )
    toplevel = Path(top.stdout.decode().strip())
    prefix = _git(["rev-parse", "--show-prefix"], base).stdout.decode().strip()
    found = _git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], base
    )
    if found.returncode != 0:
        raise VersionError(
            "unknown-version",
            f"unknown version {ref!r}: not a git revision of {toplevel}"
            + (" nor a folder" if allow_folder else ""),
        )
    commit = found.stdout.decode().strip()
    tmp = Path(tempfile.mkdtemp(prefix="cdmo-version-"))
    try:
        for sub in ("definitions", "gates"):
            archived = _git(["archive", "--format=tar", commit, "--", f"{prefix}{sub}"], toplevel)
            if archived.returncode != 0:
                if sub == "gates":
                    continue
                raise VersionError(
                    "unknown-version",
                    f"git revision {ref} ({commit[:12]}) has no {prefix}definitions/ folder",
                )
            with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        root = tmp / prefix if prefix else tmp
        return _load(root, ref, "git", commit, f"{ref}:{prefix}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
