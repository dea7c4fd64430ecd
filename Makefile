# The single source of the commands that README and CI use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-dev

.PHONY: demo test check install install-dev clean bench

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(STAMP)

## make demo: install into .venv and run the main job on the embedded DuckDB workspace
demo: install
	rm -rf demo-workspace
	$(VENV)/bin/audience demo demo-workspace

## make test: install the dev extras and everything the tests need, run the whole suite
test: install-dev
	$(VENV)/bin/pytest

## make check: lint, format check and type check
check: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache
