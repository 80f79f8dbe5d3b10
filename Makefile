# The two commands of the README: `make demo` and `make test`. Both create .venv on
# first use, with nothing but Python 3.11+ on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean redis-server docs

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "buildingminds_async needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/buildingminds demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) redis-server
	$(BIN)/pytest

# The shared-budget tests start a real redis-server on loopback (tests/redis). Installed
# with apt-get when missing and possible; otherwise those tests fail saying what to install.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server (the shared-budget tests run a real one)"; \
	  SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get install -y -qq redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq redis-server >/dev/null 2>&1; } || \
	  echo "could not install redis-server: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"; }

# Side-by-side benchmarks (benchmarks/README.md); about 10 minutes. nginx-light is
# installed with apt-get when missing. BENCH_ARGS="--quick" or "--only memory,polling".
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]' orjson
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# The guides and the API reference as a site in ./site (MkDocs Material, mkdocstrings),
# warnings as errors. The guides' code is run by `make test` (tests/docs).
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	$(BIN)/python scripts/cli_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist site
