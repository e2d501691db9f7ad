# Quick start:  make demo   (the proxy in front of the bundled demo shop)
#               make test   (the whole test suite: Python, tracker JS, browser)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-python test-js lint bench tracker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vernier demo

test: test-js test-python

test-python: $(STAMP)
	$(BIN)/python -m pytest

# The tracker's unit tests, its size budget, and a check that the committed build
# (proxy/tracker/static/t.js) is exactly what its source builds to. Needs Node.js >= 20.
test-js:
	@if command -v npm >/dev/null 2>&1; then \
	  cd tracker_js && npm ci --no-audit --no-fund --silent && npm test && npm run check; \
	elif [ "$$CI" = "true" ]; then echo "npm is required under CI" >&2; exit 1; \
	else echo "skipping tracker JS tests: Node.js/npm not installed"; fi

tracker:
	cd tracker_js && npm ci --no-audit --no-fund --silent && npm run build

lint: $(STAMP)
	$(BIN)/pip install --quiet mypy ruff types-PyYAML
	$(BIN)/ruff check proxy tests
	$(BIN)/mypy proxy

bench: $(STAMP)
	$(BIN)/python bench/proxy_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis tracker_js/node_modules
