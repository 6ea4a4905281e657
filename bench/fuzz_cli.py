"""The long fuzz run of the `cdmo` command (tests/fuzz_cli.py; the CI test runs a few).

Run: ``python -m bench.fuzz_cli [EXAMPLES_PER_BACKEND] [--surrogates]`` (PostgreSQL at
127.0.0.1:5432 for the PostgreSQL half). ``--surrogates`` adds lone surrogates, which reach
Python's argv when a terminal passes bytes that are not UTF-8. Prints the example and command
counts and every finding; record them in docs/fuzzing.md.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_fuzz_cli import hostile_text
from tests.fuzz_cli import Scenario, check, new_database, run_batch, setup


def _fuzz(
    backend: str, examples: int, text: st.SearchStrategy[str], findings: dict[str, int]
) -> tuple[int, int]:
    """Run ``examples`` scenarios on a fresh database; (examples run, commands run)."""
    counter = itertools.count(1)
    ran = [0, 0]
    strategy = st.builds(
        lambda *v: Scenario(next(counter), *v),
        text, text, text, text, text, text,
        st.one_of(st.just(""), text),
        st.one_of(st.just(""), text),
        st.one_of(text, st.just("notaurl://x")),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = new_database(backend, Path(tmp))
        try:
            setup(url)

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def run(scenario: Scenario) -> None:
                results = run_batch(url, scenario.commands())
                ran[0] += 1
                ran[1] += len(results)
                for problem in check(scenario, results):
                    key = problem.splitlines()[0][:160]
                    findings[key] = findings.get(key, 0) + 1

            run()
        finally:
            drop()
    return ran[0], ran[1]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    surrogates = "--surrogates" in args
    numbers = [int(a) for a in args if a.isdigit()]
    examples = numbers[0] if numbers else 100
    text = hostile_text()
    if surrogates:
        text = st.one_of(text, st.text(alphabet=st.sampled_from(["\udcff", "\ud800", "a"])))
    findings: dict[str, int] = {}
    total = 0
    for backend in ("sqlite", "postgresql"):
        started = time.perf_counter()
        ran, commands = _fuzz(backend, examples, text, findings)
        total += commands
        took = time.perf_counter() - started
        print(f"{backend}: {ran} examples, {commands} commands, {took:.0f} s", flush=True)
    print(f"total commands: {total}")
    if not findings:
        print("findings: none")
        return 0
    print("findings:")
    for key, count in sorted(findings.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>4} × {key}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
