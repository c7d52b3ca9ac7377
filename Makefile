# tenflow — one-command set-up. Needs only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench lint clean venv blast-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test,dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tenflow.cli.main demo --out results/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# NMC/LFP degradation against NREL BLAST-Lite (its numpy<2 pin needs a separate environment)
blast-check:
	test -x .venv-blast/bin/python || $(PYTHON) -m venv .venv-blast
	.venv-blast/bin/python -m pip install -q -e ".[test,blast]"
	.venv-blast/bin/python -m pytest -q tests/test_degradation_against_blast_lite.py
	.venv-blast/bin/python tests/test_degradation_against_blast_lite.py

clean:
	rm -rf $(VENV) .venv-blast results .pytest_cache .mypy_cache
