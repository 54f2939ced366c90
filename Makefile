# `make demo` and `make test` set everything up on first use (a .venv with the package installed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL ?= 2

DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: setup demo test docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	@TF_CPP_MIN_LOG_LEVEL=3 $(PY) examples/custom_differentiation.py

test: lint
	$(PY) -m pytest -q

# The differential fuzzer with 20x the examples, random seeds and shrinking (tests/test_fuzz.py).
.PHONY: fuzz
fuzz: $(STAMP)
	SWIFTDIFF_FUZZ_PROFILE=deep $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs,test]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	mkdir -p docs/assets/benchmarks
	cp benchmarks/results/*.png docs/assets/benchmarks/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Lint, format and type checks; `make test` runs them first.
.PHONY: lint
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks.operator_overhead
	$(PY) -m benchmarks.memory_vs_depth --table
	$(PY) -m benchmarks.memory_vs_depth --live-only --modes eager,fit_xla
	$(PY) -m benchmarks.step_time
	$(PY) -m benchmarks.cnn_fit
	$(PY) -m benchmarks.whole_models

clean:
	rm -rf $(VENV) .pytest_cache
