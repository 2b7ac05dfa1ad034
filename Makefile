# Two entry points on a fresh machine (Python 3.10+): `make test` and `make demo`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test test-fast lint test-matrix demo venv clean sandbox bench e2e-events

$(PY):
	$(PYTHON) -m venv $(VENV)

# --compile-bytecode: the .pyc files written once here, so that no test run compiles Airflow
# again (with PYTHONDONTWRITEBYTECODE set, every run did: about 7 s of a 30 s `make test-fast`).
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --python $(PY) --quiet --compile-bytecode -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# ruff (lint and format, line length 110) and mypy, zero findings of each; mypy's cache is .mypy_cache/
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# lint, then tests/unit and tests/integration, the `slow` tests included; not the `e2e` ones.
test: lint
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(PY) -m pytest -q -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)

# The tests without the `slow` ones (DAG runs, subprocesses, the long parametrized cases), no lint.
test-fast: $(STAMP)
	AIRFLOW__CORE__LOAD_EXAMPLES=False $(PY) -m pytest -q -p no:cacheprovider -m "not slow and not e2e" $(PYTEST_ARGS)

# The event-driven example under a real api-server, scheduler, dag-processor and triggerer
# (marker `e2e`, about 2-3 minutes; not part of `make test`).
e2e-events: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -s -m e2e $(PYTEST_ARGS)

# The suite on each supported Airflow release x its oldest and newest Python (dev/test_matrix.py;
# venvs cached in .matrix/). E.g. MATRIX_ARGS="--only 3.1.8/3.10 --jobs 2".
test-matrix: $(STAMP)
	$(PY) dev/test_matrix.py --uv $(VENV)/bin/uv $(MATRIX_ARGS)

demo: $(STAMP)
	$(PY) dev/demo.py

sandbox: $(STAMP)
	$(PY) -m airflow_provider_contacts.sandbox --print-connections

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .demo .matrix .mypy_cache build *.egg-info
