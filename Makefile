# tracechain: `make run` starts the devnet and the API; `make test` runs every check.
# Both create .venv and install the Python and npm dependencies on first use; later calls do no
# network work (stamps are rebuilt only when pyproject.toml or the npm lock file changes).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
NPM_STAMP := devnet/node_modules/.tracechain-installed

.PHONY: run test unit test-besu deps deps-dev npm chromium lint typecheck contracts-check pytest contracts clean

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

# The chain test set (contracts, anchoring, membership, verification, recall, audit, bundles)
# against a 4-validator Hyperledger Besu QBFT network run on this host from the Besu executable
# named by TRACECHAIN_BESU_BIN: `tracechain network init --layout local` writes it into a
# temporary folder (node keys unlocked, account allowlist off because the tests make fresh
# member keys, 1 s blocks), `network start` waits for its first block, the tests deploy our
# contracts on node 1 (TRACECHAIN_TEST_RPC_URL, see tests/conftest.py). The folder is removed
# after a pass and kept, with Besu's logs, after a failure. Without Besu it says so and exits
# 0: `make test` runs the same tests against anvil.
BESU_TESTS := tests/contracts tests/ledger/test_anchoring.py tests/ledger/test_membership.py \
	tests/ledger/test_verify.py tests/ledger/trace/test_recall.py tests/ledger/audit tests/ledger/bundle
BESU_RPC_PORT := 28545
BESU_P2P_PORT := 30403
test-besu: deps-dev
	@if [ -z "$${TRACECHAIN_BESU_BIN:-}" ] || [ ! -x "$${TRACECHAIN_BESU_BIN}" ]; then \
	  echo "test-besu: SKIPPED, no test was run: TRACECHAIN_BESU_BIN does not name a Besu executable ($${TRACECHAIN_BESU_BIN:-unset})."; \
	  echo "test-besu: set TRACECHAIN_BESU_BIN=/path/to/besu/bin/besu to run the chain tests against a Besu QBFT network."; \
	  exit 0; \
	fi; \
	dir=$$(mktemp -d) && net=$$dir/besu; \
	trap '$(BIN)/tracechain network stop '"$$net"' >/dev/null 2>&1; exit 130' INT TERM; \
	TRACECHAIN_KEYSTORE_WORK_FACTOR=1024 TRACECHAIN_NODE_PASSPHRASE=test-besu \
	  $(BIN)/tracechain network init --out "$$net" --validators 4 --layout local --besu-keys \
	  --no-account-allowlist --block-period 1 --rpc-port $(BESU_RPC_PORT) --p2p-port $(BESU_P2P_PORT) >/dev/null \
	&& $(BIN)/tracechain network start "$$net" --besu "$$TRACECHAIN_BESU_BIN" \
	&& TRACECHAIN_TEST_RPC_URL=http://127.0.0.1:$(BESU_RPC_PORT) $(BIN)/pytest $(BESU_TESTS); \
	status=$$?; \
	$(BIN)/tracechain network stop "$$net" >/dev/null 2>&1; \
	if [ $$status = 0 ]; then rm -rf "$$dir"; \
	else echo "test-besu: FAILED; the network and Besu's logs (nodes/*/besu.log) are in $$net" >&2; fi; \
	exit $$status

# Recompile the Solidity sources into contracts/artifacts/ (commit the result).
contracts: deps npm
	$(BIN)/python -m contracts.build

clean:
	rm -rf $(VENV) devnet/node_modules .pytest_cache .mypy_cache .ruff_cache
