# Two commands set up a fresh machine: `make demo` (the demo ingestion against the embedded
# simulator) and `make test` (lint, types, tests). Both create .venv when it is missing and
# install what they need into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test demo demo-cluster lint fix typecheck pytest bench clean torture fuzz mutation

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set of extras: the demo needs only the CLI's, the tests need the test tools.
$(VENV)/.installed-cli: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,cli]"
	touch $@ $(VENV)/.installed-cli

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# The generated models must match the spec digests (skipped when ../shared/specs is absent).
	$(BIN)/python tools/gen_models.py --check

# Apply ruff's safe fixes and formatting (what `make lint` checks).
fix: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy --strict ica_tapis_async _ica_tapis_async_cli.py tests tools

# Branch coverage is measured on every run, from before pytest loads our plugin (so module-level
# code counts); `coverage report` fails under the floor in [tool.coverage.report] fail_under.
pytest: $(VENV)/.installed-test
	@tools/ensure_servers.sh
	$(BIN)/coverage run -m pytest
	@$(BIN)/coverage report --format=total | sed 's/^/branch coverage (%): /'
	@$(BIN)/coverage report > /dev/null

test: lint typecheck pytest

# The long torture run of the orchestrators (faults, SIGKILLs, two processes on one journal);
# it prints its seed first: replay a failure with `make torture SEED=<seed>`.
torture: $(VENV)/.installed-test
	$(BIN)/python -m tests.orchestrator.torture $(if $(SEED),--seed $(SEED))

# The long schema fuzzing run: fresh random examples, many per schema, failures shrunk and kept
# in .hypothesis/ (`make test` runs the same tests with a fixed seed and few examples).
fuzz: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest tests/fuzz

demo: $(VENV)/.installed-cli
	$(BIN)/ica-tapis-async demo

$(VENV)/.installed-mutation: pyproject.toml $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[test,cli,mutation]"
	touch $@

# Mutation testing of the core modules (slow: minutes, not part of `make test`). Prints a score
# per module and the surviving mutants; fails when a module is under the 90% floor.
mutation: $(VENV)/.installed-mutation
	$(BIN)/python tools/mutation.py

# Four workers sharing one Redis rate budget and one PostgreSQL journal, with a live view.
# Uses redis-server and PostgreSQL when installed (apt-get install redis-server postgresql).
$(VENV)/.installed-cluster: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli,redis,postgres]"
	touch $@

demo-cluster: $(VENV)/.installed-cluster
	$(BIN)/python tools/demo_cluster.py

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info
