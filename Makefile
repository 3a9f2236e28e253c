# auditlib: `make demo` runs the main job on the synthetic demo fleet; `make test` runs every test.
# Both set up a virtual environment in .venv first (Python >= 3.11 and pip are all they need).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps test test-fast demo bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,scanners,lab,spark]'
	touch $(STAMP)

setup: $(STAMP)

# The Docker Engine, registry and base-image tools the integration tests start (root + apt only).
system-deps:
	@scripts/system-deps.sh

# Lint and types first (ruff, mypy), then every test: unit, corpus, notebooks and the real parts.
test: setup system-deps lint
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider

# The unit tests only: no real engine, registry, scanner or browser, no notebook runs.
test-fast: setup
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider -m "not integration and not slow"

# The synthetic demo fleet over four snapshots, ingested and checked; both reports and
# reports/index.html.
demo: setup
	$(BIN)/auditlib demo --images 50 --out reports
	@echo "open reports/index.html"

bench: setup
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/collect.py
	$(BIN)/python benchmarks/policy.py

lint: setup
	$(BIN)/ruff check auditlib tests benchmarks
	$(BIN)/mypy auditlib

docs: setup
	$(BIN)/python -m auditlib.tables > docs/tables.md
	$(BIN)/python -m auditlib.policy.docs > docs/policy.md

clean:
	rm -rf $(VENV) build *.egg-info reports/demo-* auditlib-store
