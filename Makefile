# Quick start:  make demo   (the proxy in front of the bundled demo shop)
#               make test   (the whole test suite)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vernier demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/pip install --quiet mypy ruff
	$(BIN)/ruff check proxy tests
	$(BIN)/mypy proxy

bench: $(STAMP)
	$(BIN)/python bench/proxy_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
