# Two commands for a fresh machine (Python 3.11, no conda):
#   make demo   - create .venv, install pinned dependencies, run the whole workflow on the demo cohort
#   make test   - create .venv if needed, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2

.PHONY: demo test venv report lint format bench dag clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/snakemake --cores $(CORES) --scheduler greedy --rerun-incomplete
	$(BIN)/snakemake --report results/report.html

report: venv
	$(BIN)/snakemake --report results/report.html

test: venv
	$(BIN)/python -m pytest -q tests

lint: venv
	$(BIN)/ruff check sortpcr scripts tests resources
	$(BIN)/ruff format --check sortpcr scripts tests resources
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

format: venv
	$(BIN)/ruff format sortpcr scripts tests resources
	$(BIN)/ruff check --fix sortpcr scripts tests resources
	$(BIN)/snakefmt Snakefile rules

bench: venv
	$(BIN)/python tests/benchmarks/run.py

dag: venv
	$(BIN)/snakemake --rulegraph | dot -Tsvg > resources/dag.svg

clean:
	rm -rf results logs benchmarks .snakemake
