# The two commands of the README: `make serve` and `make test`. Both set up what they need and are
# fast when nothing changed (stamp files record what was installed from which inputs).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
PIP := $(BIN)/python -m pip
# llama-cpp-python compiles llama.cpp from source the first time (mk/llama.mk keeps the wheel afterwards).
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: serve test lint typecheck unit clean help
.DEFAULT_GOAL := help

# Each part of the project adds its own steps in mk/NAME.mk (web build, browser tests, AWS, benchmarks):
# TEST_STEPS are run by `make test`, SERVE_STEPS before `make serve` starts the server.
TEST_STEPS := lint typecheck unit
SERVE_STEPS :=
-include mk/*.mk

help:
	@echo "make serve   set up and run Parley on http://127.0.0.1:8000"
	@echo "make test    set up and run every check and test"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llama-cpp-python is installed first from the portable wheel (mk/llama.mk), so pip finds it satisfied here.
$(STAMPS)/app: pyproject.toml constraints.txt $(STAMPS)/llama | $(BIN)/python
	@mkdir -p $(STAMPS)
	@echo "Installing Parley and the local model runtime..."
	$(PIP) install --quiet -c constraints.txt -e '.[local]'
	@touch $@

$(STAMPS)/dev: $(STAMPS)/app
	$(PIP) install --quiet -c constraints.txt -e '.[local,aws,dev]'
	@touch $@

serve: $(STAMPS)/app $(SERVE_STEPS)
	$(BIN)/parley serve

lint: $(STAMPS)/dev
	$(BIN)/ruff check src tests e2e
	$(BIN)/ruff format --check src tests e2e

typecheck: $(STAMPS)/dev
	$(BIN)/mypy

unit: $(STAMPS)/dev
	$(BIN)/python -m pytest --cov --cov-report=term

test: $(TEST_STEPS)

clean:
	rm -rf $(STAMPS) .pytest_cache .mypy_cache .ruff_cache .coverage
