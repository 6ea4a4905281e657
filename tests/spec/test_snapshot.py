"""Version hash and git pin of a process snapshot."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cdmo_workflow.spec.errors import UnknownProcessError
from cdmo_workflow.spec.loader import load_catalog, snapshot_hash


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_hash_is_stable_across_loads(tree: Path) -> None:
    a = load_catalog(tree).snapshot("api-clinical-program")
    b = load_catalog(tree).snapshot("api-clinical-program")
    assert a.version_hash == b.version_hash
    assert len(a.version_hash) == 64
    assert set(a.gates) == {p.gate for p in a.process.phases}
    assert a.git is None  # a temporary folder is not a git work tree


def test_hash_ignores_comments_and_layout(tree: Path) -> None:
    before = load_catalog(tree).snapshot("api-clinical-program").version_hash
    _edit(tree / "gates" / "gmp-readiness.yaml", "checks:", "# a comment\nchecks:  ")
    assert load_catalog(tree).snapshot("api-clinical-program").version_hash == before


def test_hash_changes_when_a_used_gate_changes(tree: Path) -> None:
    before = load_catalog(tree).snapshot("api-clinical-program").version_hash
    _edit(tree / "gates" / "gmp-readiness.yaml", "decide_within: 10d", "decide_within: 12d")
    assert load_catalog(tree).snapshot("api-clinical-program").version_hash != before


def test_hash_ignores_an_unrelated_gate(tree: Path) -> None:
    catalog = load_catalog(tree)
    api = catalog.snapshot("api-clinical-program").version_hash
    tte = catalog.snapshot("tech-transfer-engagement").version_hash
    _edit(
        tree / "gates" / "engineering-batch-review.yaml",
        "decide_within: 10bd",
        "decide_within: 9bd",
    )
    catalog = load_catalog(tree)
    assert catalog.snapshot("api-clinical-program").version_hash == api
    assert catalog.snapshot("tech-transfer-engagement").version_hash != tte


def test_hash_is_sha256_of_canonical_json(tree: Path) -> None:
    import hashlib
    import json

    snap = load_catalog(tree).snapshot("tech-transfer-engagement")
    doc = {
        "process": snap.process.model_dump(by_alias=True, mode="json"),
        "gates": {k: v.model_dump(by_alias=True, mode="json") for k, v in snap.gates.items()},
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert snap.version_hash == hashlib.sha256(text.encode()).hexdigest()
    assert snapshot_hash(snap.process, dict(snap.gates)) == snap.version_hash


def test_unknown_process_lists_known_ones(tree: Path) -> None:
    with pytest.raises(UnknownProcessError) as info:
        load_catalog(tree).snapshot("nope")
    assert "api-clinical-program, tech-transfer-engagement" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_git_pin(tree: Path) -> None:
    assert shutil.which("git"), "git is part of the toolchain"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tree),
    }

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=tree, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "definitions")
    head = git("rev-parse", "HEAD")
    snap = load_catalog(tree).snapshot("api-clinical-program")
    assert snap.git is not None and snap.git.commit == head and snap.git.dirty is False
    # Editing a gate the process does not use leaves it clean; editing a used one dirties it.
    _edit(
        tree / "gates" / "engineering-batch-review.yaml",
        "decide_within: 10bd",
        "decide_within: 9bd",
    )
    pin = load_catalog(tree).snapshot("api-clinical-program").git
    assert pin is not None and pin.dirty is False
    _edit(tree / "gates" / "scoping-go.yaml", "decide_within: 10bd", "decide_within: 9bd")
    pin = load_catalog(tree).snapshot("api-clinical-program").git
    assert pin is not None and pin.dirty is True
