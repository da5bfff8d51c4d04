# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
ifeq ($(AIRFLOW_VERSION),3.3.2)
VENV ?= .venv
else
VENV ?= .venv-$(AIRFLOW_VERSION)
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= test

.PHONY: help venv lint typecheck unit pytest test e2e e2e-celery demo demo-events ui bench fault-matrix clean

help:
	@echo "make test          - set up $(VENV) (Airflow $(AIRFLOW_VERSION)), run ruff, mypy and pytest (all but e2e)"
	@echo "make demo          - set up, start the SDRS simulator, run example DAG sdrs_dr_drill with 'airflow dags test'"
	@echo "make demo-events   - a planned failover whose asset event starts sdrs_failover_followup (airflow dags test)"
	@echo "make ui            - airflow standalone with the simulator and the example DAGs: the Disaster recovery page"
	@echo "make lint          - ruff check and ruff format --check"
	@echo "make typecheck     - mypy"
	@echo "make unit          - tests/unit only: the pieces on their own, no simulator"
	@echo "make pytest        - every test but e2e: unit, integration, example DAGs, reliability (what make test runs)"
	@echo "make e2e           - a real deployment (PostgreSQL, scheduler, 2 triggerers, API server) and a browser"
	@echo "make e2e-celery    - the e2e deployment on CeleryExecutor (Redis, 2 workers, 2 triggerers): 100 waits, a lost worker"
	@echo "make fault-matrix  - rerun the fault matrix and rewrite docs/fault-matrix.md"
	@echo "make bench         - 1,000 waits: SdrsJobTrigger vs dbt Cloud's trigger vs a bare aiohttp loop (not in make test)"
	@echo "make clean         - remove the virtualenvs, caches and the files local runs leave behind"

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.10+"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[$(EXTRAS)]" "apache-airflow==$(AIRFLOW_VERSION)"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

pytest: $(STAMP)
	$(BIN)/pytest -q --ignore=tests/e2e --ignore=tests/e2e_celery

test: lint typecheck pytest

$(VENV)/.installed-e2e: $(STAMP)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[test,e2e]" "apache-airflow==$(AIRFLOW_VERSION)"
	touch $@

e2e: $(VENV)/.installed-e2e
	bash scripts/e2e-provision.sh
	$(BIN)/pytest -q tests/e2e $(E2E_ARGS)

e2e-celery: $(VENV)/.installed-e2e
	bash scripts/e2e-provision.sh
	$(BIN)/pytest -q tests/e2e_celery $(E2E_ARGS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

demo-events: $(STAMP)
	$(BIN)/python scripts/demo_events.py

ui: $(STAMP)
	$(BIN)/python scripts/ui.py

fault-matrix: $(STAMP)
	SDRS_FAULT_MATRIX_OUT=docs/fault-matrix.md $(BIN)/pytest -q tests/integration/test_fault_matrix.py

$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e ".[test,bench]" "apache-airflow==$(AIRFLOW_VERSION)"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/triggers.py $(BENCH_ARGS)

clean:
	rm -rf .venv .venv-* .demo .demo-events .ui .pytest_cache .mypy_cache .ruff_cache .hypothesis .e2e-artifacts *.egg-info
