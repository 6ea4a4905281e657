"""Benchmarks. Run them all with ``python -m bench``; results go to docs/performance.md."""
