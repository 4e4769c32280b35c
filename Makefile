# PHB — two commands from clone to a running system: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test lint bench venv clean-venv migrations-check typecheck

# The virtual environment is (re)built from the lock file when it is missing or older than the lock.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)" \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . \
	  || { echo "uv unavailable; installing with pip (slower)"; \
	       $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock \
	       && $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .; }
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/phb run

test: $(STAMP)
	$(BIN)/pytest -n $${PYTEST_WORKERS:-auto} $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

migrations-check: $(STAMP)
	$(BIN)/phb makemigrations --check --dry-run

TIER ?= S
bench: $(STAMP)
	$(BIN)/python -m bench --tier $(TIER) $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
