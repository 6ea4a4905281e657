"""`cdmo audit archive` writes one sealed bundle; `cdmo audit verify --bundle` checks it on a
fresh directory with no database, and fails after any byte of it is changed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from audit_support import CODE, open_ctx, small_trail
from typer.testing import CliRunner

from cdmo_workflow.audit.archive import BundleError, verify_bundle
from cdmo_workflow.cli import app


def run(env: dict[str, str], *args: str, code: int) -> str:
    result = CliRunner().invoke(app, ["audit", *args], env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def bundle(db_url: str, tmp_path: Path) -> tuple[Path, str]:
    ctx = open_ctx(db_url)
    small_trail(ctx, CODE, 4)
    env = {
        "CDMO_DATABASE_URL": db_url,
        "CDMO_CHECKPOINT_DIR": str(ctx.settings.checkpoint_dir),
        "CDMO_AUDIT_KEY_FILE": str(ctx.settings.audit_key_file),
    }
    out = tmp_path / "archive" / "BX-T.cdmo-audit.jsonl"
    out.parent.mkdir()
    text = run(env, "archive", CODE, "--out", str(out), code=0)
    assert text.startswith(f"wrote {out}: 4 rows, 4 checkpoints, key ")
    fingerprint = text.strip().rsplit(" ", 1)[-1]
    exported = run(env, "export", CODE, "--format", "json", code=0)
    assert {row["checkpoint_key"] for row in json.loads(exported)} == {fingerprint}
    return out, fingerprint


def test_bundle_verifies_in_a_fresh_directory_without_the_database(
    bundle: tuple[Path, str], tmp_path: Path
) -> None:
    src, fingerprint = bundle
    fresh = tmp_path / "elsewhere"
    fresh.mkdir()
    copy = fresh / "inspector.jsonl"
    shutil.copy(src, copy)
    env = {
        "CDMO_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "CDMO_CHECKPOINT_DIR": str(fresh / "no-checkpoints"),
        "CDMO_AUDIT_KEY_FILE": str(fresh / "no-key.pem"),
    }
    cwd = os.getcwd()
    os.chdir(fresh)
    try:
        out = run(env, "verify", "--bundle", str(copy), code=0)
        assert out.startswith("audit trail intact: 1 chains, 4 rows") and fingerprint in out
        run(env, "verify", "--bundle", str(copy), "--key", fingerprint, code=0)
        wrong = run(env, "verify", "--bundle", str(copy), "--key", "0" * 16, code=1)
        assert wrong.startswith("error: audit bundle BROKEN: ")
    finally:
        os.chdir(cwd)
    assert not (fresh / "no-key.pem").exists() and not (fresh / "no-checkpoints").exists()
    lines = copy.read_text().splitlines()
    kinds = [json.loads(line)["kind"] for line in lines]
    assert kinds[0] == "bundle" and kinds[-1] == "seal"
    assert kinds.count("row") == 4 and kinds.count("checkpoint") == 4 and "key" in kinds


def test_any_changed_byte_fails(bundle: tuple[Path, str], tmp_path: Path) -> None:
    src, _ = bundle
    data = src.read_bytes()
    assert verify_bundle(src).ok
    # every byte of the seal line and of the first line, and a stride through the rest
    seal_start = data.rfind(b"\n", 0, len(data) - 1) + 1
    first_end = data.index(b"\n")
    positions = sorted(
        set(range(0, first_end + 1))
        | set(range(seal_start, len(data)))
        | set(range(0, len(data), max(1, len(data) // 400)))
    )
    target = tmp_path / "tampered.jsonl"
    survived = []
    for pos in positions:
        for new in {data[pos] ^ 0x01, ord(" ") if data[pos] != ord(" ") else ord("x")}:
            changed = bytearray(data)
            changed[pos] = new
            target.write_bytes(bytes(changed))
            try:
                ok = verify_bundle(target).ok
            except BundleError:
                ok = False
            if ok:
                survived.append(pos)
    assert survived == [], f"changes at bytes {survived[:10]} were not detected"
    for cut in (b"", data[:-1], data + b"\n", data + b"{}\n"):
        target.write_bytes(cut)
        with pytest.raises(BundleError):
            verify_bundle(target)
