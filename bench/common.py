"""Helpers every benchmark shares: the app's environment, the benchmark database, the app's
processes (started, waited for, stopped), Redis, CPU accounting from /proc.

Benchmarks import this module as ``common`` (they run as ``python bench/<name>.py``, so
``bench/`` is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


# --- Environment ------------------------------------------------------------------------------


def app_env(database: str, *, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of every app process: production-like (DEBUG off), tasks enqueued on
    the broker (Redis at ``redis_url``) as in production, not run in the request. ``extra``
    adds or overrides variables."""
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DATABASE_URL=f"{PG_SERVER}/{database}",
        REDIS_URL=redis_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        CELERY_TASK_ALWAYS_EAGER="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def redis_flush(url: str) -> None:
    """Empty the benchmark's own Redis database (queued tasks, channel-layer groups)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- Database ---------------------------------------------------------------------------------


def database_recreate(database: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def database_drop(database: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def database_maintain(database: str, *, analyze: bool = False) -> None:
    """CHECKPOINT before a timed phase (so it does not pay for the previous phase's dirty
    pages); VACUUM ANALYZE once after the bulk setup (so plans do not change mid-run when
    autovacuum first analyzes the freshly filled tables)."""
    with psycopg.connect(f"{PG_SERVER}/{database}", autocommit=True) as conn:
        if analyze:
            conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def manage(env: dict[str, str], *arguments: str) -> None:
    done = subprocess.run([sys.executable, "manage.py", *arguments], cwd=PROJECT_DIR, env=env)
    if done.returncode:
        # The benchmark runs the working tree: half-edited models or migrations stop it here.
        raise SystemExit(f"manage.py {' '.join(arguments)} failed (exit {done.returncode})")


def app_in_process(database: str, env: dict[str, str]) -> None:
    """Recreate and migrate ``database``, then set Django up in this process on it with the
    app's environment ``env``: for the benchmarks that call the app's code directly (the
    caller drops the database at the end)."""
    print(f"database {database}: recreate and migrate")
    database_recreate(database)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()


def app_in_process_end(database: str, *, keep: bool) -> None:
    """The end of ``app_in_process``: close this process's connections, then drop the
    database (or say that it was kept)."""
    if "django.db" in sys.modules:  # not there if the migration failed
        from django.db import connections

        connections.close_all()
    if keep:
        print(f"kept database {database}")
    else:
        database_drop(database)


# --- Processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthz_ok(port: int) -> bool:
    """True once the server on ``port`` answers ``GET /healthz`` with 200."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    return False


def process_start(
    command: list[str],
    *,
    name: str,
    env: dict[str, str],
    log_path: Path,
    ready: Callable[[], bool],
    cwd: Path = PROJECT_DIR,
    own_group: bool = False,
    timeout: float = 60,
    poll: float = 0.3,
) -> subprocess.Popen:
    """Start ``command`` with its output appended to ``log_path`` and wait until ``ready()``.

    ``own_group``: the process leads a new process group, and ``process_stop`` signals the
    whole group (a Celery worker and its pool children).
    """
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process, in process_stop
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=own_group,
    )
    process.log = log
    process.own_group = own_group
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            process.log.close()
            raise SystemExit(f"{name} exited with {process.returncode}; see {log_path}")
        if ready():
            return process
        time.sleep(poll)
    process_stop(process)
    raise SystemExit(f"{name} was not ready within {timeout:.0f} s; see {log_path}")


def process_stop(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; closes the process's log."""

    def send(sig: int) -> None:
        if process.own_group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    if process.poll() is None:
        send(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            process.wait()
    process.log.close()


SERVERS = ("daphne", "gunicorn", "uvicorn")


class AppServers:
    """The app served by ``kind`` (daphne, gunicorn or uvicorn) in ``processes`` processes,
    as production runs it; started by ``app_servers_start``.

    * daphne: one process per port (daphne has no workers of its own; a proxy spreads the
      connections in production, the clients here);
    * gunicorn: ``project.wsgi`` with the repository's ``gunicorn.conf.py``, one master and
      ``processes`` workers of ``threads`` threads each, on one port;
    * uvicorn: ``project.asgi`` with ``--workers processes`` (one process when 1), one port.

    Each started command leads its own process group: ``cpu()`` counts every process in
    them (gunicorn's and uvicorn's workers too), and ``stop()`` signals the whole groups.
    """

    def __init__(self, kind: str, processes: int, threads: int) -> None:
        self.kind = kind
        self.processes = processes
        self.threads = threads
        self.ports: list[int] = []
        self.started: list[subprocess.Popen] = []

    def cpu(self) -> float:
        """CPU seconds used so far by every process of the servers' process groups."""
        return sum(process_group_cpu(process.pid) or 0.0 for process in self.started)

    def cpu_system(self) -> float:
        """The part of ``cpu()`` spent in the kernel (system calls: sockets, threads)."""
        return sum(
            process_group_cpu(process.pid, system_only=True) or 0.0 for process in self.started
        )

    def pids(self) -> list[int]:
        """The processes that serve requests (gunicorn's and uvicorn's workers, not their
        supervisors), for a profiler."""
        if self.kind == "daphne" or self.processes == 1 and self.kind == "uvicorn":
            return [process.pid for process in self.started]
        return [
            pid
            for process in self.started
            for pid in process_group_pids(process.pid)
            if pid != process.pid
        ]

    def stop(self) -> None:
        for process in self.started:
            process_stop(process)

    def describe(self) -> str:
        if self.kind == "gunicorn":
            shape = f"{self.processes} worker(s) x {self.threads} threads"
        else:
            shape = f"{self.processes} process(es)"
        return f"{self.kind}, {shape}, on 127.0.0.1:{','.join(map(str, self.ports))}"


def app_servers_start(
    kind: str, *, processes: int, threads: int, env: dict[str, str], log_path: Path
) -> AppServers:
    """Start the app under ``kind`` (see ``AppServers``) on free ports, each process group
    ready once ``GET /healthz`` answers 200 (for several workers behind one port, once
    every worker is up: see ``_workers_up``)."""
    if kind not in SERVERS:
        raise ValueError(f"unknown server {kind!r}; one of {', '.join(SERVERS)}")
    servers = AppServers(kind, processes, threads)
    try:
        if kind == "daphne":
            for _ in range(processes):
                port = free_port()
                command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
                servers.ports.append(port)
                servers.started.append(
                    process_start(
                        [*command, "project.asgi:application"],
                        name="daphne",
                        env=env,
                        log_path=log_path,
                        ready=functools.partial(healthz_ok, port),
                        own_group=True,
                    )
                )
            return servers
        port = free_port()
        if kind == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
            command += ["--bind", f"127.0.0.1:{port}", "--workers", str(processes)]
            command += ["--threads", str(threads), "project.wsgi:application"]
        else:
            command = [sys.executable, "-m", "uvicorn", "project.asgi:application"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(processes)]
            command += ["--lifespan", "off", "--no-access-log", "--log-level", "warning"]
        servers.ports.append(port)
        servers.started.append(
            process_start(
                command,
                name=kind,
                env=env,
                log_path=log_path,
                ready=lambda: healthz_ok(port),
                own_group=True,
            )
        )
        deadline = time.monotonic() + 60
        while not _workers_up(servers, processes):
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind}: fewer than {processes} workers after 60 s")
            time.sleep(0.3)
        return servers
    except BaseException:
        servers.stop()
        raise


def _workers_up(servers: AppServers, processes: int) -> bool:
    """With several workers behind one port, the first /healthz is answered by whichever
    worker is up first: also wait until every worker exists (the supervisor and
    ``processes`` workers in the group). Their first requests, which import the rest of the
    app, are the benchmark's untimed warm-up."""
    if processes == 1 and servers.kind == "uvicorn":
        return True
    return len(process_group_pids(servers.started[-1].pid)) >= processes + 1


def _process_group_stats(pgid: int):
    """``(pid, fields)`` of each live process of the process group ``pgid``, ``fields``
    being /proc/PID/stat after the command name (``fields[0]`` is the state, field 3)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            yield int(entry.name), fields


def process_group_pids(pgid: int) -> list[int]:
    """The live processes of the process group ``pgid``."""
    return [pid for pid, _ in _process_group_stats(pgid)]


# --- Profiling --------------------------------------------------------------------------------


def profiler_start(py_spy: str, pids: list[int], output_stem: Path) -> list[subprocess.Popen]:
    """One py-spy per process, recording collapsed stacks (``--format raw``) to
    ``<output_stem>-<pid>.txt`` until ``profiler_stop``; ``BENCH_PY_SPY_OPTIONS`` adds
    options (e.g. ``--idle --threads`` or ``--gil``)."""
    profilers = []
    for pid in pids:
        profilers.append(
            subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
                + ["--nonblocking", "--output", f"{output_stem}-{pid}.txt"]
                + os.environ.get("BENCH_PY_SPY_OPTIONS", "").split(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    time.sleep(1)  # py-spy attaches before the phase starts
    return profilers


def profiler_stop(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    for profiler in profilers:
        profiler.wait(timeout=30)


# --- Results ---------------------------------------------------------------------------------


def results_write(name: str, *, stamp: str, args, **fields) -> Path:
    """``bench/results/<name>.json``: when the run started, its arguments and the machine,
    then ``fields`` (the run's own figures), in that order; prints and returns its path."""
    out = RESULTS_DIR / f"{name}.json"
    document = {
        "started_at": stamp,
        "args": vars(args),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        **fields,
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written {out.relative_to(PROJECT_DIR)}")
    return out


# --- CPU accounting (Linux /proc) ---------------------------------------------------------------


def process_cpu(stat_path, tick: int) -> tuple[str, float]:
    """(command name, utime + stime in seconds) from /proc/<pid>/stat."""
    with open(stat_path) as f:
        text = f.read()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return name, (int(fields[11]) + int(fields[12])) / tick


def process_group_cpu(pgid: int, *, system_only: bool = False) -> float | None:
    """CPU seconds used by every live process of the process group ``pgid`` (in the kernel
    only, with ``system_only``)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        # fields[11] utime, fields[12] stime
        return (
            sum(
                int(fields[12]) if system_only else int(fields[11]) + int(fields[12])
                for _, fields in _process_group_stats(pgid)
            )
            / tick
        )
    except (OSError, ValueError, IndexError):
        return None
