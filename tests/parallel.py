"""For running the suite on several processes with pytest-xdist (``make test`` runs it with
``-n 2``; pyproject's addopts add ``--dist loadfile``), and beside other runs of it in the
same checkout; a pytest plugin, see the root conftest.py.

What the processes must not share, and how they don't:

- The database: pytest-django gives each worker a test database of its own,
  ``test_<name>_gw0``, ``test_<name>_gw1``... (and the processes a test starts use it:
  ``tests.processes.database_url_of_the_tests``).
- Redis: tests clear the cache (a FLUSHDB), empty the broker's queues and count what is on
  them, so each worker gets a Redis database of its own, in its ``REDIS_URL`` before it
  starts (and so before Django reads its settings). ``TEST_REDIS_DATABASES`` names them
  ("5,3": the first worker's, the second's...); without it, the database of ``REDIS_URL``
  for the first worker, then the ones after it (5, 6 for ``.../5``), or where those run
  past the last of Redis's 16, the ones before it (15, 14 for ``.../15``, as in CI).
- Ports: every server a test starts listens on a free port (``tests.processes.free_port``).
- A module's fixtures: ``--dist loadfile`` runs the tests of a file on one worker, so a
  module's server and browser (``tests.browser``) start once. (Not xdist groups: on pytest
  9.2, pytest-xdist 3.8's ``--dist loadgroup`` ignores them without a word, xdist issue
  1386; the turns below do not depend on where a test runs.)
- The collected static files (``STATIC_ROOT``, one directory for the checkout):
  ``collectstatic`` deletes and writes again the post-processed files and the manifest, so
  a server starting or serving then, or a test client starting (WhiteNoise lists the
  directory), can miss a file or read half of one. The suite collects them itself, alone,
  once a run before anything is collected (``pytest_sessionstart`` in the root conftest),
  and ``make prod`` collects them again (tests/project/test_prod.py is marked ``alone``).
  A browser test's server, which lives as long as its module, starts outside any test: it
  takes its turn like one (``tests.browser``).
- PostgreSQL's connections (100 on the machines here): ``run_concurrently`` with more than
  ``MANY_THREADS`` threads waits for any other such call to end (``one_at_a_time``).

Turns: each test holds the checkout's lock shared while it runs (its function-scoped
fixtures included), a test marked ``alone`` holds it exclusive, so that no other test runs
meanwhile, on this run's other worker or in another run in this checkout (another
terminal's, another session's on the same machine, which share STATIC_ROOT and the
PostgreSQL server). One waiting to run alone goes before the tests that ask after it. The
lock files are in the checkout's ``var/``.
"""

import contextlib
import fcntl
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

# Redis's default number of databases (``databases 16``), as on the machines here.
REDIS_DATABASES = 16

# Threads with a connection each that two processes may run at once (2 x 30, and what the
# rest of the tests open, stays under PostgreSQL's 100).
MANY_THREADS = 30

# The directory of the checkout's lock files (set when pytest starts).
_locks: Path | None = None
# Whether this process holds its turn (``turn``).
_holding_turn = False


def pytest_configure(config):
    global _locks
    config.addinivalue_line(
        "markers", "alone: no other test runs meanwhile, in this run or another in the checkout"
    )
    _locks = Path(settings.BASE_DIR) / "var"
    _locks.mkdir(exist_ok=True)


def worker_redis_urls(url: str, workers: int, named: str = "") -> list[str]:
    """The Redis URL of each of ``workers`` workers: on the databases ``named`` ("5,3"), or
    else on ``url``'s database and the ones after it, or before it where those run past the
    last database."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or "db" in parse_qs(parts.query):
        raise pytest.UsageError(
            f"REDIS_URL={url}: with pytest -n, name the database in the path (redis://host:port/N)"
        )
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise pytest.UsageError(f"REDIS_URL={url}: the database must be a number")
    base = int(path or 0)
    if named:
        databases = [int(db) for db in named.split(",") if db.strip().isdigit()]
        if len(databases) != len(named.split(",")) or len(set(databases[:workers])) < workers:
            raise pytest.UsageError(
                f"TEST_REDIS_DATABASES={named}: {workers} different database numbers, "
                "one for each worker"
            )
    elif base + workers <= REDIS_DATABASES:
        databases = range(base, base + workers)
    elif base - workers + 1 >= 0:
        databases = range(base, base - workers, -1)
    else:
        raise pytest.UsageError(f"{workers} workers need {workers} Redis databases from {url}")
    return [parts._replace(path=f"/{db}").geturl() for db in databases[:workers]]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Runs in the controller before any worker starts: each worker's ``REDIS_URL`` is set
    in its environment from the start. A worker that crashed is replaced on the same spec,
    and so on the same database."""
    url = os.environ.get("REDIS_URL", "")
    if not url:  # no Redis: each process has its in-memory layer, cache and tasks
        return
    named = os.environ.get("TEST_REDIS_DATABASES", "")
    for spec, worker_url in zip(specs, worker_redis_urls(url, len(specs), named), strict=True):
        spec.env["REDIS_URL"] = worker_url


@contextlib.contextmanager
def turn(*, alone: bool):
    """Holds the checkout's lock, exclusive when ``alone``, shared otherwise."""
    global _holding_turn
    if _locks is None:  # outside a run of the suite
        yield
        return
    if _holding_turn:
        # Two flock locks of one process on two descriptors exclude each other: it would
        # wait for itself.
        raise RuntimeError("this process already holds its turn")
    with (
        (_locks / "tests-turn.gate").open("a") as gate,
        (_locks / "tests-turn.lock").open("a") as lock,
    ):
        # One waiting to run alone holds the gate, so the tests after it wait behind it
        # instead of passing it again and again on the shared lock.
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        _holding_turn = True
        try:
            yield
        finally:
            _holding_turn = False
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _turn(request):
    """Every test holds its turn while it runs: shared, or exclusive if marked ``alone``.
    Autouse: the test's function-scoped fixtures are set up and torn down inside it."""
    with turn(alone=request.node.get_closest_marker("alone") is not None):
        yield


@contextlib.contextmanager
def one_at_a_time(name: str):
    """While it is held, the same ``name`` waits in every other process of the suite in
    this checkout."""
    if _locks is None:
        yield
        return
    with (_locks / f"tests-{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
