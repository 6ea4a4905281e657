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

    from cdmo_workflow.spec.catalog import hashed_dump  # fields added later: only if not default

    snap = load_catalog(tree).snapshot("tech-transfer-engagement")
    process = hashed_dump(snap.process)
    # Fields added after the first release are left out while at their default, so the
    # hash of an unchanged file is the one its running projects pinned before they existed.
    for name in ("calendar", "currency", "budget", "share_budget", "finance_role"):
        assert name not in process
    for phase in process["phases"]:
        assert "kind" not in phase
    doc = {
        "process": process,
        "gates": {k: hashed_dump(v) for k, v in snap.gates.items()},
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert snap.version_hash == hashlib.sha256(text.encode()).hexdigest()
    assert snapshot_hash(snap.process, dict(snap.gates)) == snap.version_hash


def test_fields_added_later_keep_the_hash_of_an_unchanged_file(tree: Path) -> None:
    """quality_role, recycle_resets and condition_due at their defaults change no hash; set
    to anything else, they do."""
    before = load_catalog(tree).snapshot("api-clinical-program").version_hash
    assert before == "6c532bc13c51887c8fc8720df93b16285aa6d3ea343cea96c2cf5d94741a3949"
    _edit(tree / "gates" / "gmp-readiness.yaml", "checks:", "recycle_resets: path\nchecks:")
    assert load_catalog(tree).snapshot("api-clinical-program").version_hash == before
    _edit(tree / "gates" / "gmp-readiness.yaml", "recycle_resets: path", "condition_due: 10bd")
    assert load_catalog(tree).snapshot("api-clinical-program").version_hash != before


def test_new_fields_and_a_calendar_change_the_hash(tree: Path) -> None:
    before = load_catalog(tree).snapshot("api-clinical-program").version_hash
    (tree / "calendars").mkdir(exist_ok=True)
    (tree / "calendars" / "site.yaml").write_text(
        "schema: cdmo-workflow/v1\nkind: calendar\nid: site\nname: Site\n"
        "holidays:\n  - date: 2026-12-25\n"
    )
    catalog = load_catalog(tree)
    assert catalog.snapshot("api-clinical-program").version_hash == before  # not named
    pinned = catalog.snapshot("api-clinical-program", calendar="site")
    assert pinned.calendar is not None and pinned.calendar.id == "site"
    assert pinned.version_hash != before
    _edit(tree / "definitions" / "api-clinical-program.yaml", "manager_role: pm",
          "manager_role: pm\ncalendar: site")  # fmt: skip
    named = load_catalog(tree).snapshot("api-clinical-program")
    assert named.calendar == pinned.calendar
    assert named.version_hash not in (before, pinned.version_hash)  # the process text changed
    (tree / "calendars" / "site.yaml").write_text(
        "schema: cdmo-workflow/v1\nkind: calendar\nid: site\nname: Site\n"
        "holidays:\n  - date: 2026-12-26\n"
    )
    assert load_catalog(tree).snapshot("api-clinical-program").version_hash != named.version_hash
    _edit(tree / "definitions" / "api-clinical-program.yaml", "    duration: 15bd",
          "    duration: 15bd\n    kind: proposal")  # fmt: skip
    tagged = load_catalog(tree).snapshot("api-clinical-program")
    assert tagged.process.phases[0].kind == "proposal"
    assert tagged.version_hash != named.version_hash


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
