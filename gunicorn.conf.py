"""gunicorn's settings for the REST API in production (docs/deploy.md).

``gunicorn project.wsgi`` run from the project's root reads this file by itself; the command
line overrides any of it (``--bind``, ``--workers``, ``--threads``), and so does gunicorn's
own ``GUNICORN_CMD_ARGS``. The app reads the same environment as the daphne processes that
serve the WebSockets (README, "Configuration"): one settings module, two servers.
"""

import os

wsgi_app = "project.wsgi:application"

# Behind the reverse proxy on the same machine (docs/deploy/nginx.conf). Only loopback:
# the proxy terminates TLS and is the one client gunicorn should see.
bind = "127.0.0.1:8001"

# Threads, not more processes, carry the concurrency: a request spends much of its time
# waiting for PostgreSQL, and threads of one process share its connection pool
# (DATABASE_POOL_MAX_SIZE, 20 by default: keep threads at or below it), its publisher of
# live events and its Celery producers. Processes are for the cores: about one per core.
# WEB_CONCURRENCY (gunicorn's own variable) sets the number of workers.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 8

# Each worker imports the app itself, after the fork. Loading it in the master first
# (preload_app) would fork a process whose psycopg pool and live-event publisher threads
# did not survive the fork.
preload_app = False

# The proxy keeps connections to its upstream open (nginx's ``keepalive``): hold an idle
# one a little longer than the proxy would reuse it, so that gunicorn is not the side that
# closes a connection the proxy is about to send on.
keepalive = 75
timeout = 30
graceful_timeout = 30

# The proxy logs every request; gunicorn logs errors only.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
