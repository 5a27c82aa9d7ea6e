# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test faults bench demo lint format clean

$(VENV)/.run-installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else "CPMRS needs Python 3.11: make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# --demo: a small demo set goes into the embedded stores first, while no file was ever received.
run: $(VENV)/.run-installed
	$(BIN)/pmp up --demo

# `make test` runs the fault suite (tests/faults/) too, with small sizes; `make faults` runs
# it alone at the sizes of the outside fault study (PMP_FAULTS_FULL=1).
test: $(VENV)/.dev-installed
	scripts/ensure-test-tools
	$(BIN)/pytest

faults: $(VENV)/.dev-installed
	PMP_FAULTS_FULL=1 $(BIN)/pytest tests/faults

# A larger set of realistic ASAP files of a synthetic population, loaded into the embedded
# stores (before `make run`, which then loads no small set of its own, or while it runs).
demo: $(VENV)/.run-installed
	$(BIN)/pmp demo-data --out var/demo
	$(BIN)/pmp ingest var/demo/*.dat
	$(BIN)/pmp mm import var/demo/registry.csv

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
