# The two set-up commands of the README:
#   make run   — install everything and run the default sweep
#   make test  — install everything and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install --quiet -e '.[test,lint,bench,suites]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/gdlab $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check gdlab tests benchmarks experiments
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/throughput.py $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
