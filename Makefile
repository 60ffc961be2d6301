# tracechain: `make run` starts the devnet and the API; `make test` runs every check.
# Both create .venv and install the Python and npm dependencies on first use; later calls do no
# network work (stamps are rebuilt only when pyproject.toml or the npm lock file changes).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
NPM_STAMP := devnet/node_modules/.tracechain-installed

.PHONY: run test unit deps deps-dev npm chromium lint typecheck contracts-check pytest contracts clean

# The devnet (kept running in the background, state in .data/), then the API with its anchor
# worker in the foreground on http://127.0.0.1:8000 (Ctrl-C stops the API; `tracechain devnet
# down` stops the chain).
run: deps npm
	$(BIN)/tracechain devnet up
	$(BIN)/tracechain serve

test: deps-dev npm chromium lint typecheck contracts-check pytest

deps: $(STAMPS)/run
deps-dev: $(STAMPS)/dev
npm: $(NPM_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMPS)/run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/run

$(NPM_STAMP): devnet/package.json devnet/package-lock.json
	cd devnet && npm ci --no-audit --no-fund
	@touch $@

# The browser tests render the buyer's page in Debian's chromium, with a CJK font for the
# Simplified Chinese page (both installed as root when missing).
BROWSER_PACKAGES := chromium fonts-wqy-microhei
chromium:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi microhei; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) \
	      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES); }; \
	  else echo "the browser tests need: sudo apt-get install $(BROWSER_PACKAGES)" >&2; exit 1; fi; \
	fi

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

contracts-check:
	$(BIN)/python -m contracts.build --check

pytest:
	$(BIN)/pytest

# The fast tests alone: everything that needs no anvil devnet (about a minute on 2 cores).
unit: deps-dev
	$(BIN)/pytest -m "not chain"

# Recompile the Solidity sources into contracts/artifacts/ (commit the result).
contracts: deps npm
	$(BIN)/python -m contracts.build

clean:
	rm -rf $(VENV) devnet/node_modules .pytest_cache .mypy_cache .ruff_cache
