# The single source of the commands that README and CI use.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-fast check install install-dev system-deps clean bench

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@

# Debian packages the tests need: a PostgreSQL server and a Redis server (both started by the
# test fixtures), Java 17 for Spark in local mode, and chromium for the browser tests
# (Playwright drives Debian's build; it never downloads its own). Installed only where
# missing; needs root (or sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1 \
		|| ! [ -x /usr/bin/chromium ] || ! command -v redis-server >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql \
			openjdk-17-jre-headless chromium redis-server; \
	fi

install: $(VENV)/.installed

install-dev: $(STAMP)

## make demo: install into .venv and run the main job on the embedded DuckDB workspace
demo: install
	rm -rf demo-workspace
	$(VENV)/bin/audience demo demo-workspace

## make test: install the dev extras and everything the tests need, run the whole suite
test: install-dev system-deps
	$(VENV)/bin/pytest

## make test-fast: the tests not marked slow, in parallel (the edit loop; CI runs make test)
test-fast: install-dev system-deps
	$(VENV)/bin/pytest -m "not slow" -n auto

## make check: lint, format check and type check
check: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) bench/ingest.py --out bench/out/ingest
	$(PY) bench/features.py --workspace bench/out/ingest/ws
	$(PY) bench/models.py --workspace bench/out/ingest/ws --truth bench/out/ingest/data/truth.csv --out bench/out/models
	$(PY) bench/serve.py --workspace bench/out/models/ws
	$(PY) bench/refresh_features.py
	$(PY) bench/refresh.py

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache
