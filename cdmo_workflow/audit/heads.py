"""Each chain's latest signed head, as the scheduled reconcile publishes it (a Prefect
artifact): the function builds the markdown from the checkpoint directory alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checkpoints import chain_files, read_chain


def latest_heads(checkpoint_dir: Path) -> list[dict[str, Any]]:
    """One entry per chain: its highest checkpointed seq, hash, time and key."""
    out = []
    for chain, path in chain_files(Path(checkpoint_dir)).items():
        cps, _bad = read_chain(path)
        if not cps:
            continue
        top = max(cps, key=lambda cp: cp.seq)
        out.append(
            {
                "chain": chain,
                "seq": top.seq,
                "hash": top.hash,
                "at": top.at,
                "key": top.key,
                "checkpoints": len(cps),
            }
        )
    return out


def heads_markdown(checkpoint_dir: Path) -> str:
    """A markdown table of :func:`latest_heads` (``create_markdown_artifact`` takes it)."""
    heads = latest_heads(checkpoint_dir)
    lines = [
        "# Audit chain heads",
        "",
        f"Signed checkpoints in `{checkpoint_dir}`. Keep a copy: a later `cdmo audit verify` "
        "that finds a chain shorter than, or different from, these heads shows tampering.",
        "",
    ]
    if not heads:
        return "\n".join([*lines, "**No checkpoints.** The trail cannot be anchored.", ""])
    lines += ["| Chain | Seq | Head hash | Signed at (UTC) | Key |", "|---|---:|---|---|---|"]
    for h in heads:
        chain = str(h["chain"]).replace("|", "\\|")
        lines.append(f"| {chain} | {h['seq']} | `{h['hash']}` | {h['at']} | `{h['key']}` |")
    return "\n".join([*lines, ""])
