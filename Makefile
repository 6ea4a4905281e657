# The two set-up commands of the README: `make up` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install up test lint typecheck pytest bench schemas clean

$(BIN)/cdmo: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(BIN)/cdmo

install: $(BIN)/cdmo

up: install
	$(BIN)/cdmo up

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy cdmo_workflow

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench

schemas: install
	$(BIN)/cdmo schema

clean:
	rm -rf $(VENV) .cdmo .pytest_cache .mypy_cache .ruff_cache
