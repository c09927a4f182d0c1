# Two commands for a fresh machine (Python 3.11, no conda):
#   make demo   - create .venv, install pinned dependencies, run the whole workflow on the demo cohort
#   make test   - create .venv if needed, run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
SHELL  := /bin/bash

.PHONY: demo test venv report lint format bench dag clean

# pip's output is kept in $(VENV)/pip-install.log; the terminal gets one line per package
# (progress) and, on failure, the end of the log.
$(BIN)/.installed: pyproject.toml
	@echo "make: creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@echo "make: installing sortpcr and its pinned dependencies into $(VENV)" \
		"(first time: a few minutes; a line per package; full log: $(VENV)/pip-install.log)"
	@set -o pipefail; $(BIN)/pip install --progress-bar off -e ".[test]" 2>&1 \
		| tee $(VENV)/pip-install.log \
		| while IFS= read -r line; do case $$line in \
			Collecting*|Processing*|Building*) echo "  $$line" ;; \
			"Installing collected packages"*) echo "  installing $$(echo "$$line" \
				| tr ',' '\n' | wc -l) packages (the longest step) ..." ;; \
			"Successfully installed"*) echo "  done" ;; esac; done \
		|| { echo "make: pip install failed; the end of $(VENV)/pip-install.log:" >&2; \
		     tail -n 25 $(VENV)/pip-install.log >&2; exit 1; }
	@touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/snakemake --cores $(CORES) --scheduler greedy --rerun-incomplete
	$(BIN)/snakemake --report results/report.html

report: venv
	$(BIN)/snakemake --report results/report.html

test: venv
	@if [ "$${SORTPCR_SKIP_SLURM:-0}" != 1 ] && [ "$$(id -u)" = 0 ] && [ "$$(uname)" = Linux ]; then \
		echo "make test: tests/test_slurm.py installs SLURM and munge with apt-get (as root)" \
			"if missing, starts munged, slurmctld and slurmd on 127.0.0.1 for the test and" \
			"stops them afterwards. To skip it: SORTPCR_SKIP_SLURM=1 make test"; fi
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
