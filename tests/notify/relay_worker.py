"""A relay in its own process, for crash and concurrency tests.

python -m tests.notify.relay_worker URL --pause-after-send MARKER   # hangs after 1st send
python -m tests.notify.relay_worker URL --drain --worker w1          # relays until empty
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from cdmo_workflow.notify.relay import RelayStats, relay_once


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--pause-after-send", type=Path)
    parser.add_argument("--drain", action="store_true")
    parser.add_argument("--worker", default="w")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--start-when", type=Path, help="wait for this file before starting")
    args = parser.parse_args()
    import cdmo_workflow.notify.relay  # noqa: F401  (imports done before the start signal)

    if args.start_when is not None:
        while not args.start_when.exists():
            time.sleep(0.01)

    def pause(row: Any) -> None:
        assert args.pause_after_send is not None
        args.pause_after_send.write_text(json.dumps({"id": row["id"], "key": row["dedup_key"]}))
        time.sleep(600)  # killed with SIGKILL here: sent, not yet marked

    if args.pause_after_send:
        relay_once(args.url, batch=args.batch, after_send=pause, worker_id=args.worker)
        return 0
    total = RelayStats()
    idle = 0
    while idle < 3:  # stop after three empty cycles in a row
        stats = relay_once(args.url, batch=args.batch, worker_id=args.worker)
        total += stats
        idle = idle + 1 if stats.claimed == 0 else 0
        if stats.claimed == 0:
            time.sleep(0.05)
    print(json.dumps({"sent": total.sent, "failed": total.failed, "dead": total.dead}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
