"""Fixtures of the CLI tests: the budget fixture project (``cdmo``)."""

from tests.cli.budget_project import cdmo

__all__ = ["cdmo"]
