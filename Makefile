# The README's commands. Everything installs into ./.venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test check bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,postgres,dask]'
	touch $(STAMP)

install: $(STAMP)

# The screening benchmark's nomenklatura baseline lives in a venv of its own: nomenklatura pins
# duckdb<2, and the main venv keeps DuckDB 2.x (about twice as fast for the cloud monitor).
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

## make run: the service and dashboard on embedded defaults (SQLite ./sluicegate.db, shipped
## lists, demo order book, ledger and cloud data); prints the URL and a key to log in with
run: $(STAMP)
	$(VENV)/bin/sluice serve --demo

## make check: lint and type-check
check: $(STAMP)
	$(PY) -m ruff check src tests benchmarks tools
	$(PY) -m ruff format --check src tests benchmarks tools
	$(PY) -m mypy

## make test: lint, types and the whole test suite
test: check
	$(PY) -m pytest -q -n 2

## make bench: every benchmark, each against its in-process baseline
bench: $(STAMP) $(BENCH_STAMP)
	$(PY) benchmarks/rules.py
	$(PY) benchmarks/ledger.py
	$(BENCH_VENV)/bin/python benchmarks/screening.py
	$(PY) benchmarks/simulate.py
	$(PY) benchmarks/cloud.py --rows 20000000
	$(PY) benchmarks/cloud_state.py --rows 1000000

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache
