"""Hypothesis drives `cdmo` in subprocesses with hostile text in every free-text option.

Bounded for CI (a few examples per backend, one subprocess each running ~20 commands); the
longer run is ``python -m bench.fuzz_cli`` (results in docs/fuzzing.md).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_cli import NASTY, Scenario, check, new_database, run_batch, setup

pytestmark = pytest.mark.slow

EXAMPLES = {"sqlite": 6, "postgresql": 5}


def hostile_text() -> st.SearchStrategy[str]:
    """Random unicode (no surrogates or NUL: argv cannot carry them), control characters,
    Rich markup, SQL metacharacters and very long strings."""
    any_text = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=60,
    )
    controls = st.text(
        alphabet=st.sampled_from(
            [chr(c) for c in range(1, 32)] + ["\x7f", "\x9b", "\u202e", "\u2066", "[", "]", "/"]
        ),
        max_size=20,
    )
    mixed = st.tuples(st.sampled_from(NASTY), any_text).map("".join)
    return st.one_of(st.sampled_from(NASTY), any_text, controls, mixed)


def scenarios(counter: itertools.count[int]) -> st.SearchStrategy[Scenario]:
    t = hostile_text()
    return st.builds(
        lambda *values: Scenario(next(counter), *values),
        t, t, t, t, t, t,
        st.one_of(st.just(""), t, st.sampled_from(["p-1", "X" * 40, "A\x1b[2J"])),
        st.one_of(st.just(""), t),
        st.one_of(t, t.map(lambda x: "json://localhost:9/" + x), st.just("notaurl://x")),
    )  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hostile_text_never_breaks_the_cli(backend: str, tmp_path: Path) -> None:
    url, drop = new_database(backend, tmp_path)
    try:
        setup(url)
        counter = itertools.count(1)

        @settings(
            max_examples=EXAMPLES[backend],
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(scenarios(counter))
        def run(scenario: Scenario) -> None:
            results = run_batch(url, scenario.commands())
            problems = check(scenario, results)
            assert not problems, "\n".join(problems)

        run()
    finally:
        drop()
