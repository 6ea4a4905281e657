"""Signed checkpoints: the chain heads, kept outside the database (Certificate Transparency's
signed tree heads, for a hash chain).

After every commit that appended audit rows, ``CheckpointWriter`` appends one JSON line per
chain to ``<checkpoint dir>/<chain>.jsonl``:

    {"at":"2026-12-01T19:41:07.123456Z","chain":"BX-T","hash":"ab12…","key":"3f…","seq":5,
     "sig":"<base64 Ed25519 signature>"}

The signature covers ``cdmo-audit-checkpoint/1\\n`` followed by the canonical JSON of the
other five fields. Files are only ever appended to (``O_APPEND``, one ``write`` per line), so
the directory can live on WORM storage or be committed to a git repository. Lines from
concurrent commands may land out of seq order; readers sort.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from cdmo_workflow.hashing import canonical_json, iso_utc

from .keys import KEYS_FILE, PublicKey, SigningKey, add_to_keyring, load_or_create

SIGNING_CONTEXT = b"cdmo-audit-checkpoint/1\n"
SUFFIX = ".jsonl"


def chain_file(directory: Path, chain: str) -> Path:
    return Path(directory) / (quote(chain, safe="") + SUFFIX)


def chain_of_file(path: Path) -> str:
    return unquote(path.name[: -len(SUFFIX)])


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: str
    key: str
    sig: str
    line: int = 0
    """Line number in its file (1-based; 0 when not read from a file)."""

    def body(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key": self.key,
        }

    def message(self) -> bytes:
        return SIGNING_CONTEXT + canonical_json(self.body()).encode("utf-8")

    def to_line(self) -> str:
        return canonical_json({**self.body(), "sig": self.sig})

    def verify(self, keys: dict[str, PublicKey]) -> str | None:
        """None when the signature holds; else why not (a short phrase)."""
        key = keys.get(self.key)
        if key is None:
            return f"is signed by an unknown key {self.key}"
        try:
            sig = base64.b64decode(self.sig, validate=True)
        except ValueError:
            return "has an unreadable signature"
        if not key.verify(sig, self.message()):
            return f"has a bad signature (key {self.key})"
        return None

    def when(self) -> str:
        """``2026-12-01 19:41:07 UTC``: how a sentence names the checkpoint."""
        from cdmo_workflow.display import utc

        try:
            return utc(self.at)
        except ValueError:
            return self.at


def sign_checkpoint(key: SigningKey, chain: str, seq: int, digest: str, at: datetime) -> Checkpoint:
    unsigned = Checkpoint(chain, seq, digest, iso_utc(at), key.fingerprint, "")
    sig = base64.b64encode(key.sign(unsigned.message())).decode()
    return Checkpoint(chain, seq, digest, unsigned.at, key.fingerprint, sig)


def parse_line(text: str, number: int = 0) -> Checkpoint | None:
    try:
        obj = json.loads(text)
        cp = Checkpoint(
            chain=str(obj["chain"]),
            seq=int(obj["seq"]),
            hash=str(obj["hash"]),
            at=str(obj["at"]),
            key=str(obj["key"]),
            sig=str(obj["sig"]),
            line=number,
        )
    except (ValueError, KeyError, TypeError):
        return None
    return cp


@dataclass(frozen=True)
class UnreadableLine:
    file: str
    line: int


def read_chain(path: Path) -> tuple[list[Checkpoint], list[UnreadableLine]]:
    good: list[Checkpoint] = []
    bad: list[UnreadableLine] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            cp = parse_line(text, n)
            if cp is None:
                bad.append(UnreadableLine(path.name, n))
            else:
                good.append(cp)
    return good, bad


def last_checkpoint(directory: Path, chain: str, tail_bytes: int = 4096) -> Checkpoint | None:
    """The newest checkpoint of ``chain``, read from the end of its file: a cost that does not
    grow with the chain's history (the project artifact shows it after every command)."""
    path = chain_file(Path(directory), chain)
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - tail_bytes))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        cp = parse_line(line)
        if cp is not None:
            return cp
    return None


def chain_files(directory: Path) -> dict[str, Path]:
    """chain -> its checkpoint file, for every ``*.jsonl`` file of the directory."""
    d = Path(directory)
    if not d.is_dir():
        return {}
    return {
        chain_of_file(p): p for p in sorted(d.iterdir()) if p.name.endswith(SUFFIX) and p.is_file()
    }


def append_lines(path: Path, lines: Iterable[str], *, fsync: bool = False) -> None:
    """One ``write`` with ``O_APPEND`` (lines of concurrent writers never interleave)."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


class CheckpointWriter:
    """A commit listener (``store.CommitListener``): sign and append each chain's new head.

    The key is loaded (or created) on the first commit and kept for the process; its public
    key is copied into the checkpoint directory once. With ``fsync`` each line is flushed to
    the disk before the command returns (``CDMO_CHECKPOINT_FSYNC=1``; about 0.2 ms more);
    without it a machine crash can lose the last checkpoints, which ``verify`` then reports
    as rows newer than the last checkpoint.
    """

    def __init__(self, directory: Path, key_file: Path, *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.key_file = Path(key_file)
        self.fsync = fsync
        self._key: SigningKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> SigningKey:
        with self._lock:
            if self._key is None:
                key = load_or_create(self.key_file)
                self.directory.mkdir(parents=True, exist_ok=True)
                add_to_keyring(self.directory / KEYS_FILE, key.public)
                self._key = key
            return self._key

    def reload(self) -> None:
        """Forget the loaded key (after a rotation, the next commit loads the new one)."""
        with self._lock:
            self._key = None

    def __call__(self, heads: Sequence[Any]) -> None:
        key = self.key
        now = datetime.now(UTC)
        for head in heads:
            cp = sign_checkpoint(key, head.chain, head.seq, head.hash, now)
            append_lines(chain_file(self.directory, head.chain), [cp.to_line()], fsync=self.fsync)

    def __repr__(self) -> str:
        return f"CheckpointWriter({str(self.directory)!r})"
