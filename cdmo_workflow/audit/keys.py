"""The Ed25519 key that signs checkpoints, and the keyring of public keys that verify them.

The private key is a PEM file (PKCS#8, unencrypted) created on first use with owner-only
permissions (0600). It never goes into the project database. Beside it, the keyring
(``<key file>.keyring.jsonl``) keeps every public key the file ever held, one JSON line each,
so checkpoints signed before a rotation still verify. The checkpoint directory gets a copy of
each public key too (``public-keys.keyring``), so a copy of that directory verifies on its own.

A key's fingerprint is the first 16 hex digits of SHA-256 over its 32 raw public bytes.

The PEM is written and read by hand (a fixed 16-byte PKCS#8 prefix and the 32-byte seed):
importing ``cryptography``'s serialization module would add ~25 ms to every command.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cdmo_workflow.hashing import canonical_json, iso_utc

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
PEM_HEADER = "-----BEGIN PRIVATE KEY-----"
PEM_FOOTER = "-----END PRIVATE KEY-----"
KEYS_FILE = "public-keys.keyring"
"""The copy of the public keys in the checkpoint directory (JSON lines; never a chain file)."""


class AuditKeyError(ValueError):
    """A key file that cannot be read or created (one plain sentence)."""


def fingerprint(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def keyring_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".keyring.jsonl")


def _pem(seed: bytes) -> str:
    body = base64.b64encode(PKCS8_ED25519_PREFIX + seed).decode()
    return f"{PEM_HEADER}\n{body}\n{PEM_FOOTER}\n"


def _seed_from_pem(text: str, path: Path) -> bytes:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != PEM_HEADER or lines[-1] != PEM_FOOTER:
        raise AuditKeyError(f"{path} is not a PEM private key")
    try:
        der = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise AuditKeyError(f"{path} is not a PEM private key") from None
    if len(der) != 48 or not der.startswith(PKCS8_ED25519_PREFIX):
        raise AuditKeyError(f"{path} is not an Ed25519 private key")
    return der[16:]


@dataclass(frozen=True)
class PublicKey:
    fingerprint: str
    raw: bytes
    created_at: str | None = None

    def line(self) -> str:
        return canonical_json(
            {
                "key": self.fingerprint,
                "ed25519": base64.b64encode(self.raw).decode(),
                "created_at": self.created_at,
            }
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            _public_key(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@functools.lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def parse_public_line(text: str) -> PublicKey | None:
    """A keyring line, or None when it is not one (its fingerprint must match its bytes)."""
    try:
        obj = json.loads(text)
        raw = base64.b64decode(obj["ed25519"], validate=True)
    except (ValueError, KeyError, TypeError):
        return None
    if len(raw) != 32 or obj.get("key") != fingerprint(raw):
        return None
    return PublicKey(fingerprint(raw), raw, obj.get("created_at"))


def read_keyring(path: Path) -> dict[str, PublicKey]:
    out: dict[str, PublicKey] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        key = parse_public_line(line)
        if key is not None:
            out.setdefault(key.fingerprint, key)
    return out


def add_to_keyring(path: Path, key: PublicKey) -> None:
    """Append ``key`` to the keyring file unless it is already there."""
    if key.fingerprint in read_keyring(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (key.line() + "\n").encode("utf-8"))
    finally:
        os.close(fd)


class SigningKey:
    """The private key of ``path``, loaded once; ``sign`` is pure CPU (tens of µs)."""

    def __init__(self, path: Path, seed: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.path = path
        self._key: Ed25519PrivateKey = Ed25519PrivateKey.from_private_bytes(seed)
        pub: Ed25519PublicKey = self._key.public_key()
        raw = pub.public_bytes_raw()
        self.public = PublicKey(fingerprint(raw), raw)

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def _write_new_key(path: Path, *, replace: bool) -> None:
    """A fresh seed in a 0600 temporary file, then linked (first use) or renamed (rotation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, _pem(secrets.token_bytes(32)).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            # os.link fails if another process created the key first: use theirs
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_or_create(path: Path) -> SigningKey:
    """The signing key of ``path``, created (0600) on first use; its public key is kept."""
    path = Path(path)
    if not path.exists():
        try:
            _write_new_key(path, replace=False)
        except OSError as err:
            message = f"cannot create the audit key file {path}: {err.strerror}"
            raise AuditKeyError(message) from None
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise AuditKeyError(f"cannot read the audit key file {path}: {err}") from None
    key = SigningKey(path, _seed_from_pem(text, path))
    ring = keyring_path(path)
    if key.fingerprint not in read_keyring(ring):
        stamped = PublicKey(key.fingerprint, key.public.raw, iso_utc(datetime.now(UTC)))
        add_to_keyring(ring, stamped)
    return key


def rotate(path: Path) -> tuple[str | None, str]:
    """Replace the key of ``path`` with a new one; (old fingerprint or None, new fingerprint).

    The old public key stays in the keyring, so older checkpoints still verify.
    """
    path = Path(path)
    old = load_or_create(path).fingerprint if path.exists() else None
    _write_new_key(path, replace=True)
    return old, load_or_create(path).fingerprint


def trusted_keys(key_file: Path, checkpoint_dir: Path | None) -> dict[str, PublicKey]:
    """Public keys from the keyring beside the key file and from the checkpoint directory."""
    keys = read_keyring(keyring_path(Path(key_file)))
    if checkpoint_dir is not None:
        for fp, key in read_keyring(Path(checkpoint_dir) / KEYS_FILE).items():
            keys.setdefault(fp, key)
    return keys
