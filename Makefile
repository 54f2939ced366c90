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
	$(PY) examples/custom_differentiation.py

test: $(STAMP)
	$(PY) -m pytest -q

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs,test]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	mkdir -p docs/assets/benchmarks
	cp benchmarks/results/*.png docs/assets/benchmarks/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/operator_overhead.py
	$(PY) benchmarks/memory_vs_depth.py
	$(PY) benchmarks/step_time.py
	$(PY) benchmarks/cnn_fit.py

clean:
	rm -rf $(VENV) .pytest_cache
