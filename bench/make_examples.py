"""Regenerate the example pictures in docs/images/ from the demo portfolio.

Run: ``python -m bench.make_examples`` (or ``python bench/make_examples.py``). The demo is
driven through the service functions on a throw-away SQLite database with a simulated clock
(see cdmo_workflow/reports/examples.py); the pictures are as of 25 November 2026, so
regenerating them without a code change gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path | None = None) -> int:
    from cdmo_workflow.reports.examples import make_examples

    written = make_examples(out or ROOT / "docs" / "images")
    for path in written.values():
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
