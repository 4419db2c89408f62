"""Settings, read from the environment (see README "Configuration").

Two shapes of the same service:

* **Embedded default** (nothing set, ``DEBUG`` on): SQLite in WAL mode, an in-process
  channel layer, an in-process cache and Celery tasks run in-process. One machine, no
  other service needed: for trying the service out.
* **Production** (``DEBUG`` off): PostgreSQL through psycopg 3 with a connection pool,
  Redis for the channel layer, the cache and the Celery broker. It refuses to start
  without ``SECRET_KEY`` or with a database that is not PostgreSQL.
"""

import logging
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url

# Every variable is read through project.env: a bad value is refused in one line, and the
# README's configuration table is tested against the variables read here.
from project.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    refuse_to_start,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG")
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        refuse_to_start("SECRET_KEY is not set (it is required when DEBUG is off).")
    SECRET_KEY = "embedded-default-insecure-key-for-local-use-only"

if not DEBUG and not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    refuse_to_start(
        "DATABASE_URL must name a PostgreSQL database (postgres://...) when DEBUG is off; "
        "SQLite is for the embedded default only."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "users",
    "idempotency",
    "wallets",
    "tournaments",
    "matches",
    "consumers",
    "notifications",
    "web",
]

# No profiling or per-request database middleware: each entry here runs on every request.
# AxesMiddleware only turns a lockout flag set by the login endpoints into a response.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # Last, so that its process_exception sees the view's exception first.
    "project.middleware.LostConnectionReadRetry",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

# Read even without DATABASE_URL, so that a bad value is refused whichever database is used.
pool_max_size = env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=0)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if pool_max_size > 0:
        # Under ASGI, Django's persistent connections (CONN_MAX_AGE) are per thread and
        # leak; psycopg's pool is the supported way to reuse connections.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # With the pool, Django turns this into the pool's check: a connection is checked
        # (one empty round trip) before it is handed out, and replaced if the server closed
        # it. After a PostgreSQL restart or pg_terminate_backend the idle connections are
        # dead, and without the check requests that started seconds later failed with
        # "terminating connection due to administrator command".
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"]["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": pool_max_size, "timeout": 10}
        }
else:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "db.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write
                # lock when a transaction starts, so two writers queue instead of failing
                # with "database is locked" half-way through.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

# --- Cache, channel layer, Celery ---------------------------------------------------------

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    # The only channels are one hub per server process (consumers.hub): each receives every
    # change of the tournaments its process watches, so it gets a deeper queue than the
    # default 100. A message lost anyway (full, expired) is recovered from the event log.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 60},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# Live events are kept this many days (then `manage.py events_prune` deletes them); a client
# resuming from an older version gets a snapshot instead (docs/live-updates.md, "Retention").
LIVE_EVENT_RETENTION_DAYS = env_int("LIVE_EVENT_RETENTION_DAYS", 7, minimum=1)
# Live frames go straight to the connection under daphne and uvicorn, built once per event
# (consumers/transports/); off sends them through ASGI like any other frame: a switch for
# measuring, or for a server whose internals changed.
LIVE_DIRECT_WRITES = env_bool("LIVE_DIRECT_WRITES", default=True)

# Celery reads every CELERY_* setting (project/celery.py). Results are never stored in the
# database: they are ignored, and no result backend is configured at all.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Without Redis there is no broker: tasks run in-process, at the moment they are enqueued
# (which is after commit, see transaction.on_commit in the services).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged after it ran, and re-queued when its worker dies: tasks are
# idempotent (their state lives in PostgreSQL), so running one twice is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No task runs longer than its hard time limit, and the broker hands an unacknowledged task
# to another worker only after the visibility timeout: the timeout is the longer, so a task
# that is still running is never started a second time beside itself. (A task whose worker
# died is redelivered after the timeout; the beat sweepers re-enqueue lost work sooner.)
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 3600, minimum=1)
}
# If the worker loses the broker, its late-acknowledged tasks will be delivered again:
# stop them rather than let them run beside their redelivered copy.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Periodic work (``celery -A project beat``). Each run re-enqueues what is unfinished, so a
# lost message delays the work by one period at most; ``expires`` drops runs that a stopped
# worker did not take in time instead of piling them up.
# Seconds between two runs of the auto-start beat entry: a tournament starts at most this
# long after its ``starts_at``. A setting so that a test's real beat need not wait a minute.
AUTO_START_EVERY = env_int("AUTO_START_EVERY", 60, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "tournament-refunds-sweep": {
        "task": "tournaments.tasks.tournament_refunds_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "matches-confirm-overdue": {
        "task": "matches.tasks.matches_confirm_overdue",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "tournament-payouts-sweep": {
        "task": "matches.tasks.tournament_payouts_sweep",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Starts the ``auto_start`` tournaments whose ``starts_at`` has passed (matches.auto_start).
    "tournaments-auto-start": {
        "task": "matches.tasks.tournaments_auto_start",
        "schedule": float(AUTO_START_EVERY),
        "options": {"expires": max(AUTO_START_EVERY - 5, 1)},
    },
    "tournament-events-prune": {
        "task": "tournaments.tasks.tournament_events_prune",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    },
}

# Refunds of a cancelled tournament run a chunk of participants per task and transaction;
# a chunk that made no progress for REFUNDS_STALLED_AFTER seconds is enqueued again.
REFUNDS_CHUNK_SIZE = env_int("REFUNDS_CHUNK_SIZE", 1000, minimum=1)
REFUNDS_STALLED_AFTER = env_int("REFUNDS_STALLED_AFTER", 120, minimum=1)

# Prizes of a tournament with at most PAYOUTS_INLINE_MAX placed participants are paid in the
# transaction of the result that completes it; more are decided there and paid by a chain
# of chunk tasks of about PAYOUTS_CHUNK_LINES ledger lines each (a team's roster plus the
# escrow per participant); a chain without progress for PAYOUTS_STALLED_AFTER seconds is
# enqueued again.
# 0 inline pays every tournament's prizes in the background.
PAYOUTS_INLINE_MAX = env_int("PAYOUTS_INLINE_MAX", 8, minimum=0)
PAYOUTS_CHUNK_LINES = env_int("PAYOUTS_CHUNK_LINES", 1000, minimum=1)
PAYOUTS_STALLED_AFTER = env_int("PAYOUTS_STALLED_AFTER", 120, minimum=1)

# --- Auth and brute-force protection ----------------------------------------------------

AUTHENTICATION_BACKENDS = [
    # Axes sees only the calls to authenticate(): the token endpoint and the admin login.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "project.errors.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
SILENCED_SYSTEM_CHECKS = [
    # API.md locks out a *username* after 5 failures (so one user cannot lock out every
    # player behind a shared NAT address); IP-based limits belong to the reverse proxy.
    "axes.W006",
]
if not REDIS_URL:
    # The embedded default runs one process, where the in-process cache is a correct store
    # for failed-login counts; production always has Redis (a shared cache).
    SILENCED_SYSTEM_CHECKS.append("axes.W001")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing credential a 401.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["project.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "project.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Atom Tournament API",
    "DESCRIPTION": "Tournaments, wallets, brackets and live results. See API.md for the contract.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.schema.error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TournamentStatusEnum": "tournaments.models.Tournament.Status",
        "ParticipantStatusEnum": "tournaments.models.Participant.Status",
        # One name for the games of a series, whichever field offers them (best_of,
        # best_of_final, on creation and on edit).
        "BestOfEnum": "tournaments.serializers.BEST_OF_SCHEMA_CHOICES",
    },
}

# --- Money ------------------------------------------------------------------------------

CURRENCY = env_str("CURRENCY", "USD")

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# In the embedded default the files are served straight from the apps, no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production) --------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 3600, minimum=0)
# Both commit every subdomain of the operator's domain to HTTPS, or the domain to browsers'
# preload lists: the operator's decision, off unless set (README, "check --deploy").
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# GET /healthz is polled by load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Notifications (notifications/) ----------------------------------------------------

# Email goes through Django's backends: SMTP in production, configured from the
# environment; the console with DEBUG (the embedded default); locmem under the tests
# (Django's test setup swaps it in).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
# A stuck SMTP server must not hold a worker until the task's time limit.
# 0 would make the socket non-blocking, not patient: at least a second.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Atom Tournament <noreply@localhost>")
# SMS goes through a small pluggable backend (notifications/sms.py): the console one
# prints messages; plug a provider in by subclassing BaseSmsBackend and naming it here.
SMS_BACKEND = env_str("SMS_BACKEND", "notifications.sms.ConsoleSmsBackend")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr}},
    # dictConfig accepts only the level names, in capitals; any other value was a traceback.
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", choices=logging.getLevelNamesMapping()),
    },
}

# --- Matches ----------------------------------------------------------------------------

# A result one side reported and the other left unanswered this long is confirmed as
# reported by the beat task matches.tasks.matches_confirm_overdue (the organizer can still
# reset it), so that one side cannot stall the bracket.
MATCH_CONFIRMATION_TIMEOUT = timedelta(minutes=env_int("MATCH_CONFIRMATION_MINUTES", 15, minimum=1))
