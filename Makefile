# The two commands: `make run` and `make test`. Both set everything up on a fresh
# machine that has Python 3.11+ and make: a virtual environment in .venv, uv inside it,
# and every dependency installed from uv.lock.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.synced

export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint typecheck layers pytest bench contracts clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "ninefold needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.9,<1"

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	@touch $(STAMP)

run: $(STAMP)  ## set up, migrate, seed the demo and serve on http://127.0.0.1:8000
	$(BIN)/ninefold serve --migrate --seed-demo

test: lint typecheck layers pytest  ## set up and run every check

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check src tests bench contracts
	$(BIN)/ruff format --check src tests bench contracts

typecheck: $(STAMP)  ## mypy --strict on src/
	$(BIN)/mypy

layers: $(STAMP)  ## the import-layer contracts of DESIGN.md
	$(BIN)/lint-imports

pytest: $(STAMP)  ## the test suite (PostgreSQL leg when NINEFOLD_TEST_POSTGRES_URL or CI is set)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks as ratios against baselines run alongside
	$(BIN)/python -m bench

contracts: $(STAMP)  ## write contracts/: openapi.json and the event schemas
	$(BIN)/ninefold contracts

clean:  ## remove the virtual environment and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
