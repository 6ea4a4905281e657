"""One file an inspector can verify alone: ``cdmo audit archive CODE --out FILE``.

The bundle is UTF-8 JSON lines, each line canonical JSON:

    {"kind":"bundle","format":"cdmo-audit-bundle/1","chain":"BX-T","created_at":"…Z"}
    {"kind":"key", …}              every public key that signed a checkpoint (or the seal)
    {"kind":"row", …}              the audit rows, in seq order, exactly as hashed
    {"kind":"checkpoint", …}       the chain's signed checkpoints, in file order
    {"kind":"seal","sha256":"…","key":"…","sig":"…"}

The seal signs (Ed25519, the current audit key) the SHA-256 of every byte before it, and must
itself be the exact canonical line ending the file, so changing any byte of the bundle fails
``verify_bundle``. The rows are then checked like the database: the hash chain, and every
row covered by a signed checkpoint. Trust comes from the key fingerprint: compare it with the
one printed on the exports (or pass ``expect_key``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdmo_workflow.hashing import canonical_json, iso_utc

from .anchor import AuditReport, check
from .checkpoints import Checkpoint, UnreadableLine, chain_files, parse_line, read_chain
from .keys import PublicKey, load_or_create, parse_public_line, trusted_keys
from .source import Source, unit_of_work

FORMAT = "cdmo-audit-bundle/1"
SEAL_CONTEXT = b"cdmo-audit-bundle/1\n"


class BundleError(ValueError):
    """A bundle that cannot be read or whose seal does not hold (one sentence)."""


def _row_line(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    at = out.get("at")
    if isinstance(at, datetime):
        out["at"] = iso_utc(at)
    return {"kind": "row", **out}


def write_bundle(
    source: Source, chain: str, checkpoint_dir: Path, key_file: Path, out: Path
) -> dict[str, Any]:
    """Write the bundle of ``chain`` to ``out``; what it holds (rows, checkpoints, keys)."""
    key = load_or_create(Path(key_file))
    files = chain_files(Path(checkpoint_dir))
    cps: list[Checkpoint] = []
    if chain in files:
        cps, _bad = read_chain(files[chain])
    known = trusted_keys(Path(key_file), Path(checkpoint_dir))
    known.setdefault(key.fingerprint, key.public)
    used = sorted({cp.key for cp in cps if cp.key in known} | {key.fingerprint})
    lines = [
        canonical_json(
            {
                "kind": "bundle",
                "format": FORMAT,
                "chain": chain,
                "created_at": iso_utc(datetime.now(UTC)),
            }
        )
    ]
    lines += [canonical_json({"kind": "key", **json.loads(known[fp].line())}) for fp in used]
    count = 0
    with unit_of_work(source) as uow:
        for row in uow.audit.rows(chain):
            lines.append(canonical_json(_row_line(row)))
            count += 1
    lines += [canonical_json({"kind": "checkpoint", **json.loads(cp.to_line())}) for cp in cps]
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    sig = key.sign(SEAL_CONTEXT + digest.encode())
    seal = {
        "kind": "seal",
        "sha256": digest,
        "key": key.fingerprint,
        "sig": base64.b64encode(sig).decode(),
    }
    Path(out).write_bytes(body + (canonical_json(seal) + "\n").encode("utf-8"))
    return {"chain": chain, "rows": count, "checkpoints": len(cps), "keys": used, "out": str(out)}


def verify_bundle(path: Path, expect_key: str | None = None) -> AuditReport:
    """Check a bundle with no database: the seal, the hash chain and the checkpoints."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise BundleError(f"cannot read the bundle {path}: {err.strerror}") from None
    if not data.endswith(b"\n"):
        raise BundleError(f"{name} is not a complete audit bundle (it does not end with a seal)")
    cut = data.rfind(b"\n", 0, len(data) - 1) + 1
    body, seal_bytes = data[:cut], data[cut:]
    try:
        seal = json.loads(seal_bytes)
        lines = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{name} is not an audit bundle, or it was changed") from None
    if (
        not isinstance(seal, dict)
        or seal.get("kind") != "seal"
        or (canonical_json(seal) + "\n").encode("utf-8") != seal_bytes
    ):
        raise BundleError(f"{name}: its seal line is missing or was changed")
    if hashlib.sha256(body).hexdigest() != seal.get("sha256"):
        raise BundleError(f"{name} was changed after it was sealed (its SHA-256 differs)")
    keys: dict[str, PublicKey] = {}
    rows: list[dict[str, Any]] = []
    cps: list[Checkpoint] = []
    bad: list[UnreadableLine] = []
    head = lines[0] if lines else {}
    if not isinstance(head, dict) or head.get("kind") != "bundle" or head.get("format") != FORMAT:
        raise BundleError(f"{name} is not a {FORMAT} file")
    chain = str(head.get("chain"))
    for n, obj in enumerate(lines[1:], start=2):
        kind = obj.get("kind") if isinstance(obj, dict) else None
        text = json.dumps({k: v for k, v in obj.items() if k != "kind"}) if kind else ""
        if kind == "key":
            key = parse_public_line(text)
            if key is None:
                raise BundleError(f"{name}: line {n} holds an invalid public key")
            keys[key.fingerprint] = key
        elif kind == "row":
            rows.append({k: v for k, v in obj.items() if k != "kind"})
        elif kind == "checkpoint":
            cp = parse_line(text, n)
            if cp is None:
                bad.append(UnreadableLine(name, n))
            else:
                cps.append(cp)
        else:
            raise BundleError(f"{name}: line {n} is not a key, row or checkpoint")
    sealer = keys.get(str(seal.get("key")))
    if sealer is None:
        raise BundleError(f"{name}: the seal names key {seal.get('key')}, which it does not hold")
    try:
        sig = base64.b64decode(str(seal.get("sig")), validate=True)
    except ValueError:
        sig = b""
    if not sealer.verify(sig, SEAL_CONTEXT + str(seal["sha256"]).encode()):
        raise BundleError(
            f"{name}: the seal's signature does not verify (key {sealer.fingerprint})"
        )
    if expect_key is not None and expect_key not in keys:
        raise BundleError(
            f"{name} is not signed by key {expect_key} (it holds: {', '.join(sorted(keys))})"
        )
    if any(r.get("chain") != chain for r in rows):
        raise BundleError(f"{name}: a row belongs to another chain than {chain}")
    rows.sort(key=lambda r: int(r.get("seq") or 0))
    return check(rows, {chain: (name, cps, bad)}, keys, checkpoint_dir=name)
