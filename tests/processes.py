"""For tests that start real server or worker processes on the test database."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Seconds a test waits for one answer from a server it started.
TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_the_tests() -> str:
    """The URL of the database the tests run on (pytest-django's ``test_<name>``), for a
    process started from a test: it sees what the test committed (``transactional_db``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    at = f"{credentials}@" if credentials else ""
    return f"postgres://{at}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def http_call(port: int, method: str, path: str, *, token: str | None = None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    status, payload = response.status, response.read()
    conn.close()
    return status, payload


@contextlib.contextmanager
def daphnes_running(count: int, **env: str):
    """``count`` daphne processes with production settings on the test database and the
    tests' Redis, each healthy (``/healthz``) before this yields their ports; ``env``
    overrides the environment (``DATABASE_POOL_MAX_SIZE``, say)."""
    environment = dict(
        os.environ,
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database_url_of_the_tests(),
        REDIS_URL=settings.REDIS_URL,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        CELERY_TASK_ALWAYS_EAGER="1",
        PYTHONUNBUFFERED="1",
        **env,
    )
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "project.asgi:application",
            ],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        for port, process in zip(ports, processes, strict=True):
            while True:
                if process.poll() is not None:
                    pytest.fail(f"daphne exited: {process.stderr.read().decode()[-2000:]}")
                with contextlib.suppress(OSError):
                    if http_call(port, "GET", "/healthz")[0] == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail("daphne did not become healthy")
                time.sleep(0.2)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stderr.close()
