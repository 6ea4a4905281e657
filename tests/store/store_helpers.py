"""Helpers shared by the store tests."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any


def run_processes(target: Callable[..., None], args_list: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per args tuple, released together by a barrier.

    Each target receives ``(*args, barrier, results)`` and puts ``("ok"|"error", value)``.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_list))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_list]
    for p in procs:
        p.start()
    out = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"
    errors = [v for status, v in out if status != "ok"]
    assert not errors, errors
    return [v for _, v in out]
