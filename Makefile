# Two commands for a fresh machine (see README):
#   make run   - the service on the embedded default (SQLite, in-process layer and tasks),
#                on HOST:PORT (default 127.0.0.1:8000)
#   make test  - the whole suite, against PostgreSQL and Redis on this machine
# And one to try the production topology on this machine (docs/deploy.md):
#   make prod  - gunicorn, two daphne, a Celery worker and beat (Procfile, honcho), against
#                the local PostgreSQL and Redis
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

.PHONY: run test install lint prod

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

# --- make prod ----------------------------------------------------------------------------
# The production topology on this machine, from the Procfile, run by honcho: gunicorn
# (REST and pages) on PROD_HOST:PROD_WEB_PORT, daphne (WebSockets) on PROD_WS_PORT_1 and
# PROD_WS_PORT_2, a Celery worker and beat; DEBUG off, against the local PostgreSQL
# (PROD_DATABASE_URL's database, created if missing, then migrated) and Redis (PROD_REDIS_URL).
# A reverse proxy in front joins them into one site (docs/deploy/nginx.conf uses these
# ports). Ctrl-C stops every process. Any variable can be given: make prod PROD_WEB_PORT=9001
PROD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/atom_prod
PROD_REDIS_URL ?= redis://127.0.0.1:6379/0
PROD_HOST ?= 127.0.0.1
PROD_WEB_PORT ?= 8001
PROD_WS_PORT_1 ?= 8002
PROD_WS_PORT_2 ?= 8003
PROD_ALLOWED_HOSTS ?= localhost,127.0.0.1,$(PROD_HOST)
# A key of this machine's own, made on the first `make prod` (var/ is not in git).
PROD_SECRET_KEY_FILE ?= var/prod-secret-key
PROD_BEAT_SCHEDULE ?= var/celerybeat-schedule
# Plain HTTP on this machine: no redirect to HTTPS (a proxy with TLS in front redirects
# itself), and the notification emails printed in the worker's output, not sent by SMTP.
PROD_ENV = DEBUG=0 SECRET_KEY="$$(cat $(PROD_SECRET_KEY_FILE))" \
	DATABASE_URL=$(PROD_DATABASE_URL) REDIS_URL=$(PROD_REDIS_URL) \
	ALLOWED_HOSTS=$(PROD_ALLOWED_HOSTS) SECURE_SSL_REDIRECT=0 \
	EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend \
	PROD_HOST=$(PROD_HOST) PROD_WEB_PORT=$(PROD_WEB_PORT) \
	PROD_WS_PORT_1=$(PROD_WS_PORT_1) PROD_WS_PORT_2=$(PROD_WS_PORT_2) \
	PROD_BEAT_SCHEDULE=$(PROD_BEAT_SCHEDULE) PATH="$(CURDIR)/$(BIN):$$PATH"

# Creates the database named in the URL (argv[1]) on its server, unless it exists.
define PROD_DATABASE_CREATE
import sys
from urllib.parse import urlsplit
import psycopg
from psycopg import sql
url = urlsplit(sys.argv[1])
name = url.path.lstrip("/")
with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"created database {name}")
endef
export PROD_DATABASE_CREATE

$(PROD_SECRET_KEY_FILE): | $(BIN)/python
	mkdir -p $(dir $@)
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $@

prod: install $(PROD_SECRET_KEY_FILE)
	$(BIN)/python -c "$$PROD_DATABASE_CREATE" "$(PROD_DATABASE_URL)"
	$(PROD_ENV) $(BIN)/python manage.py migrate --noinput
	$(PROD_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	mkdir -p $(dir $(PROD_BEAT_SCHEDULE))
	$(PROD_ENV) exec $(BIN)/honcho start --env /dev/null --procfile Procfile
