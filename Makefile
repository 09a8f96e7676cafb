# The few commands people type. Everything runs from a local virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.installed

.PHONY: run test fuzz lint format install lock bench clean-data stop

# (Re)install only when a lock changed since the last install: the runtime set (requirements.txt,
# what the image installs) and the development set (tests, lint, embedded services), both with hashes.
$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements.txt -r requirements-dev.txt
	@cat requirements.txt requirements-dev.txt > $(STAMP)

# After editing requirements.in or requirements-dev.in: lock both again, pinned with hashes (uv).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements.in --generate-hashes --python-version 3.11 -o requirements.txt --quiet
	$(VENV)/bin/uv pip compile requirements-dev.in --generate-hashes --python-version 3.11 -o requirements-dev.txt --quiet

install: $(STAMP)

# development: DEBUG on unless the environment says otherwise (settings default it to off)
run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py console

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# schemathesis over /api/schema/ against a real console (daphne on the test database): no 5xx, no answer
# outside the schema; FUZZ_EXAMPLES cases per operation (default 15), FUZZ_SEED to replay a run
fuzz: $(STAMP)
	$(PY) -m pytest -m fuzz config/tests/test_api_is_fuzzed.py $(PYTEST_ARGS)

# import-linter keeps the apps' import direction (pyproject.toml); mypy loads Django's settings without
# starting the embedded PostgreSQL and Redis (nothing connects to the URLs given).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DATABASE_URL=postgres://lint@127.0.0.1:1/lint REDIS_URL=redis://127.0.0.1:1/0 $(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	@echo "Benchmarks run against a running console (make run) unless they say otherwise:"
	@ls bench/*.py

stop: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py embedded stop
