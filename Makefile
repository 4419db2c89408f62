# Two commands for a fresh machine (see README):
#   make run   - the service on the embedded default (SQLite, in-process layer and tasks),
#                on HOST:PORT (default 127.0.0.1:8000)
#   make test  - the whole suite, against PostgreSQL and Redis on this machine
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Where the tests find PostgreSQL and Redis; override from the environment.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/atom
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DEBUG=0 SECRET_KEY=test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	ALLOWED_HOSTS=testserver,localhost,127.0.0.1 SECURE_SSL_REDIRECT=0 \
	CELERY_TASK_ALWAYS_EAGER=1 DATABASE_POOL_MAX_SIZE=0

.PHONY: run test install lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Where `make run` listens: `make run HOST=0.0.0.0 PORT=8080`.
HOST ?= 127.0.0.1
PORT ?= 8000

run: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/daphne -b $(HOST) -p $(PORT) project.asgi:application

test: install
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(BIN)/ruff check .
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
