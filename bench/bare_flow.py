"""The bare Prefect baseline for bench_prefect: a served flow that suspends for one input
and completes on resume (``python bench/bare_flow.py`` serves it)."""

from __future__ import annotations

from prefect import flow
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput


class Answer(RunInput):
    value: str = ""


@flow(name="bare-suspend")
def bare_suspend() -> str:
    answer = suspend_flow_run(wait_for_input=Answer, key="only", timeout=None)
    return answer.value


if __name__ == "__main__":
    bare_suspend.serve(name="bare-suspend", print_starting_message=True)
