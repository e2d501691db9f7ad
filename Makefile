# Quick start:  make demo   (the proxy in front of the bundled demo shop)
#               make test   (lint and types, then the whole suite: Python, tracker JS, browser)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt
# The one tool that writes the lock; pinned so that `make lock` is repeatable.
UV_VERSION := 0.13.9

.PHONY: demo test test-python test-js lint bench bench-worlds tracker dashboard lock clean

# Installs exactly the locked set (every transitive package, pinned, hash-checked), then
# Vernier itself without dependencies and without a build sandbox (the build backend is locked too).
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

# Re-resolves the lock from pyproject.toml's ranges, for every platform and Python >= 3.11
# at once; the runtime lock (the Docker image's) is the same versions without test/dev tools. Run it on purpose (to take upgrades or after editing dependencies), then run
# `make test` and commit both files together.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet "uv==$(UV_VERSION)"
	.venv-lock/bin/uv pip compile pyproject.toml requirements/build.in --all-extras \
	  --universal --python-version 3.11 --generate-hashes --no-header --upgrade -o $(LOCK)
	.venv-lock/bin/uv pip compile pyproject.toml requirements/build.in --constraint $(LOCK) \
	  --universal --python-version 3.11 --generate-hashes --no-header -o $(RUNTIME_LOCK)

demo: $(STAMP)
	$(BIN)/vernier demo

test: lint test-js test-python

test-python: $(STAMP)
	$(BIN)/python -m pytest

# The tracker's unit tests, its size budget, and a check that the committed build
# (proxy/tracker/static/t.js) is exactly what its source builds to. Needs Node.js >= 20.
test-js:
	@if command -v npm >/dev/null 2>&1; then \
	  cd tracker_js && npm ci --no-audit --no-fund --silent && npm test && npm run check && \
	  cd ../dashboard_js && npm ci --no-audit --no-fund --silent && npm run check; \
	elif [ "$$CI" = "true" ]; then echo "npm is required under CI" >&2; exit 1; \
	else echo "skipping tracker JS tests: Node.js/npm not installed"; fi

tracker:
	cd tracker_js && npm ci --no-audit --no-fund --silent && npm run build

# The dashboard's chart script and styles (uPlot, pinned in dashboard_js/package-lock.json), built
# into proxy/dashboard/static/ and committed, so neither the proxy nor `pip install` needs Node.
dashboard:
	cd dashboard_js && npm ci --no-audit --no-fund --silent && npm run build

# mypy --strict (pyproject.toml) over the package and its tests, then over bench/, whose scripts
# import each other as siblings (`python bench/proxy_bench.py`), so it is checked on its own path;
# then the import contract (docs/design-notes.md, "Layers") and the check that code cites only
# documents, sections and cases that are in the repository; the normal suite runs both too.
lint: $(STAMP)
	$(BIN)/ruff check proxy tests bench
	$(BIN)/mypy proxy tests
	MYPYPATH=bench $(BIN)/mypy bench/*.py
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layers.py tests/test_doc_citations.py

# Vernier against the reference HTMLRewriter Worker on workerd (bench/worker/, installed from the
# npm registry by the script), then against nginx sub_filter (skipped where nginx is missing).
bench: $(STAMP) bench-worlds
	$(BIN)/python bench/edge_bench.py
	$(BIN)/python bench/proxy_bench.py

# The world suite (bench/worlds/*.yaml): the bandit's defaults on every world, 10 seeds each,
# in process through the production features, model, sampling and learning (docs/benchmarks.md);
# then seeds 11-20, the held-out worlds (bench/worlds-heldout/) and an outside tester's
# (bench/worlds-outside/), which chose no setting.
bench-worlds: $(STAMP)
	$(BIN)/python bench/worlds_bench.py --seeds 10
	$(BIN)/python bench/worlds_bench.py --seeds 10 --first-seed 11
	$(BIN)/python bench/worlds_bench.py --seeds 10 --worlds-dir bench/worlds-heldout
	$(BIN)/python bench/worlds_bench.py --seeds 10 --worlds-dir bench/worlds-outside

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .hypothesis tracker_js/node_modules dashboard_js/node_modules
