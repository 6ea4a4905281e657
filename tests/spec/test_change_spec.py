"""The change_control block and gmp flag keep old version hashes; versions read from git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cdmo_workflow.spec.loader import load_catalog
from cdmo_workflow.spec.revisions import VersionError, load_version

ROOT = Path(__file__).resolve().parents[2]

HASHES_BEFORE_CHANGE_CONTROL = {
    # Computed by the code before `gmp` and `change_control` existed: unchanged files keep them.
    ("tests/flows/definitions", "mini-programme"): (
        "67cd4b8e2f6281800b2204756d619d0cd757ebe57927b24efb1446e1256fe593"
    ),
    ("tests/service/defs", "mini"): (
        "bc3f8df1710e5de7503e2e3cf91808fdf3b4f8b093ddd17df9e2dc6b98f8b8bd"
    ),
    ("tests/cli/defs", "fuzz"): "f89e29489b77fa6bd6a06683f243e891d2c59c1f1212201519f1558ad8137660",
}


@pytest.mark.parametrize(("root", "process"), sorted(HASHES_BEFORE_CHANGE_CONTROL))
def test_unchanged_yaml_keeps_its_version_hash(root: str, process: str) -> None:
    got = load_catalog(ROOT / root).snapshot(process).version_hash
    assert got == HASHES_BEFORE_CHANGE_CONTROL[(root, process)]


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "tree"
    shutil.copytree(ROOT / "tests" / "service" / "defs", dest)
    return dest


def test_defaults_written_out_do_not_change_the_hash_and_meaning_does(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    path = tree / "definitions" / "mini.yaml"
    base = load_catalog(tree).snapshot("mini").version_hash
    text = path.read_text()
    path.write_text(text.replace("    gate: build-go\n", "    gate: build-go\n    gmp: false\n"))
    assert load_catalog(tree).snapshot("mini").version_hash == base
    path.write_text(text.replace("    gate: build-go\n", "    gate: build-go\n    gmp: true\n"))
    gmp = load_catalog(tree).snapshot("mini").version_hash
    assert gmp != base
    path.write_text(
        text.replace("phases:\n", "change_control:\n  approvers:\n    - role: pm\nphases:\n", 1)
    )
    assert load_catalog(tree).snapshot("mini").version_hash not in (base, gmp)


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.org",
           "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()  # fmt: skip


def test_a_git_revision_is_read_without_checking_it_out(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    tree = repo / "defs"
    shutil.copytree(ROOT / "tests" / "service" / "defs", tree)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    first = _git(repo, "rev-parse", "HEAD")
    path = tree / "definitions" / "mini.yaml"
    path.write_text(path.read_text().replace("owner: pm\n", "owner: pmm\n", 1))
    _git(repo, "commit", "-q", "-am", "broken")
    path.write_text(path.read_text().replace("owner: pmm\n", "owner: pm\n", 1) + "# tidy\n")
    version = load_version(first, tree)
    snap = version.snapshot("mini")
    assert snap.git is not None and (snap.git.commit, snap.git.dirty) == (first, False)
    assert (
        snap.version_hash
        == load_catalog(ROOT / "tests" / "service" / "defs").snapshot("mini").version_hash
    )
    broken = load_version("HEAD", tree)
    with pytest.raises(VersionError) as info:
        broken.snapshot("mini")
    assert info.value.rule == "invalid-version"
    assert str(info.value.findings[0]).startswith("HEAD:defs/definitions/mini.yaml:")
    assert "pmm" in info.value.message
    # Nothing was checked out: the work tree keeps its own edit, HEAD did not move.
    assert path.read_text().endswith("# tidy\n")
    assert _git(repo, "status", "--porcelain") == "M defs/definitions/mini.yaml"
    for bad in ("-n", "--output=/tmp/x", "nope", "HEAD:defs", " HEAD"):
        with pytest.raises(VersionError) as info:
            load_version(bad, tree, allow_folder=False)
        assert info.value.rule == "unknown-version", bad
    with pytest.raises(VersionError):
        load_version(str(tree), tree, allow_folder=False)  # the forms take no folders
    assert load_version(str(tree), tree).kind == "folder"
