# The two set-up commands of the README: `make up` and `make test`.
#   make up    venv + the runtime dependencies only, then `cdmo up` (UI, flows, demo project)
#   make test  venv + the dev extra, PostgreSQL and Debian's Chromium (.ci/test-prerequisites.sh:
#              started or installed, or it stops in its first seconds naming the command to run),
#              then ruff, mypy and the whole test suite
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
export VENV

.PHONY: install install-dev up test prerequisites lint typecheck pytest bench schemas clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Runtime only: what `cdmo up` needs (no Playwright, mypy or ruff).
$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime

install-dev: $(VENV)/.dev

up: install
	$(BIN)/cdmo up

# First, before any install: PostgreSQL and the browser, or stop in seconds naming the command.
prerequisites:
	bash .ci/test-prerequisites.sh

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy cdmo_workflow

pytest: prerequisites install-dev
	$(BIN)/pytest

test: prerequisites lint typecheck pytest

bench: install-dev
	$(BIN)/python -m bench

schemas: install
	$(BIN)/cdmo schema

clean:
	rm -rf $(VENV) .cdmo .pytest_cache .mypy_cache .ruff_cache
