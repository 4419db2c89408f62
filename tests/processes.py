"""For tests that start real server or worker processes on the test database.

A pytest plugin (``pytest_plugins`` in the root conftest.py): its fixtures ``broker`` and
``start_worker`` are there for every test module.
"""

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from project.celery import app as celery_app

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Seconds a test waits for one answer from a server it started.
TIMEOUT = 10
# Short, so that a new worker gets back the message a killed one held; still longer than
# any task of these tests.
VISIBILITY_TIMEOUT = 3
BROKER_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


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


def http_call(
    port: int, method: str, path: str, *, token: str | None = None, body=None, headers=None
):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json", **(headers or {})}
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
    environment = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url_of_the_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    ports = [free_port() for _ in range(count)]
    # Each daphne logs to a file of its own: a pipe nobody reads fills at 64 KiB and then
    # blocks the server's logging, and with it the server (the storm and fault tests log a lot).
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in ports]
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
                stderr=log,
            )  # fmt: skip
            for port, log in zip(ports, logs, strict=True)
        ]
        try:
            deadline = time.monotonic() + 60
            for port, process, log in zip(ports, processes, logs, strict=True):
                while True:
                    if process.poll() is not None:
                        log.seek(0)
                        pytest.fail(f"daphne exited: {log.read().decode()[-2000:]}")
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


def wait_for(condition, timeout: float, *, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


@pytest.fixture
def broker(monkeypatch):
    """Redis as the broker of this process too: tasks are published, not run here."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*BROKER_KEYS)  # nothing left over from an earlier run
    yield client
    client.delete(*BROKER_KEYS)


@pytest.fixture
def start_worker(tmp_path):
    """Starts ``celery -A project worker`` processes on the test database (``env``
    overrides their environment); each is ready when this returns it, and killed, with
    its child, at the end of the test."""
    workers = []

    def start(**env) -> subprocess.Popen:
        log_path = tmp_path / f"worker-{len(workers)}.log"
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel=INFO",
                "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
                f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=PROJECT_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url_of_the_tests(),
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "CELERY_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
                "DATABASE_POOL_MAX_SIZE": "0",
                **env,
            },
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the main process and its child
        )  # fmt: skip
        process.log_path = log_path
        workers.append(process)
        wait_for(lambda: b" ready." in log_path.read_bytes() or process.poll() is not None, 60)
        assert process.poll() is None, log_path.read_text()
        return process

    yield start
    for process in workers:
        if process.poll() is None:
            worker_kill(process)


def worker_kill(process: subprocess.Popen) -> None:
    """SIGKILL the whole worker, main process and child, as a crash or an OOM kill would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
