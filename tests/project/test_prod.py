"""``make prod``: the production topology on this machine (Procfile, run by honcho).

The test runs ``make prod`` as a person would, on free ports, with a database of its own
(``<test database>_prod``, dropped first, so the target's create-and-migrate runs whole)
and the tests' Redis database. Through it: players register, join and report over REST to
gunicorn, while a spectator socket on each daphne receives the live events those writes
published from gunicorn's workers; the Celery worker runs the notification the completed
match enqueued. Then it stops ``make prod`` as Ctrl-C would, and checks that no process
it started is left.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from django.conf import settings
from websockets.sync.client import connect

from project import env as project_env
from tests.processes import (
    BROKER_KEYS,
    PROJECT_DIR,
    database_url_of_the_tests,
    free_port,
    http_call,
)

PASSWORD = "prod-Test-pass-8531"
# The first start migrates a fresh database and collects the static files: on a busy
# 2-core machine that takes a while.
STARTUP_TIMEOUT = 180
STOP_TIMEOUT = 60


@pytest.fixture
def database_url():
    """A database of the test's own on the tests' PostgreSQL server, absent at the start
    (``make prod`` creates it) and dropped at the end."""
    tests_url = urlsplit(database_url_of_the_tests())
    name = f"{settings.DATABASES['default']['NAME']}_prod"
    server = tests_url._replace(path="/postgres").geturl()

    def drop():
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    yield tests_url._replace(path=f"/{name}").geturl()
    drop()


@pytest.fixture
def broker():
    """The tests' Redis database, with no task left on its queue by earlier tests."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*BROKER_KEYS)
    yield client
    client.delete(*BROKER_KEYS)
    client.close()


class Prod:
    """A running ``make prod``: its ports, its output, its processes."""

    def __init__(self, process: subprocess.Popen, log: Path, ports: dict[str, int]):
        self.process = process
        self.log = log
        self.ports = ports
        self.started: dict[int, int] = {}  # pid -> process group, once it is ready

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def descendants(self) -> dict[int, int]:
        """Every live process under ``make`` (pid -> process group): honcho's children
        lead sessions of their own, so this is where to look for what could be left."""
        parents, groups = {}, {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
                groups[int(stat.parent.name)] = int(fields[2])
        found, frontier = {}, [self.process.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in found:
                    found[pid] = groups[pid]
                    frontier.append(pid)
        return found

    def stop(self) -> list[int]:
        """Ctrl-C (SIGINT to make's process group, as a terminal sends it); returns the
        pids of what was started and is still alive once make has exited."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        return sorted(pid for pid in self.started if alive(pid))

    def kill(self) -> None:
        """Whatever is left, SIGKILLed: never left to the next test."""
        groups = {self.started[pid] for pid in self.started if alive(pid)}
        for group in groups | {self.process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError, IndexError):  # a zombie has exited
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def ready(prod: Prod) -> bool:
    if prod.process.poll() is not None:
        pytest.fail(f"make prod exited ({prod.process.returncode}):\n{prod.output()[-4000:]}")
    for port in prod.ports.values():
        with contextlib.suppress(OSError):
            if http_call(port, "GET", "/healthz")[0] == 200:
                continue
        return False
    return " ready." in prod.output()  # the Celery worker's "celery@host ready."


@pytest.fixture
def prod(tmp_path, database_url, broker):
    ports = {"web": free_port(), "ws1": free_port(), "ws2": free_port()}
    # make prod sets the app's variables itself; the ones the test run has (make test's)
    # must not reach it (CELERY_TASK_ALWAYS_EAGER, DATABASE_POOL_MAX_SIZE...).
    environment = {k: v for k, v in os.environ.items() if k not in project_env.DEFAULTS}
    log = tmp_path / "prod.log"
    command = [
        "make",
        "--no-print-directory",
        "prod",
        f"PROD_DATABASE_URL={database_url}",
        f"PROD_REDIS_URL={settings.REDIS_URL}",
        f"PROD_WEB_PORT={ports['web']}",
        f"PROD_WS_PORT_1={ports['ws1']}",
        f"PROD_WS_PORT_2={ports['ws2']}",
        f"PROD_SECRET_KEY_FILE={tmp_path / 'secret-key'}",
        f"PROD_BEAT_SCHEDULE={tmp_path / 'beat' / 'schedule'}",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the test's Ctrl-C reaches it alone
        )
    running = Prod(process, log, ports)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready(running):
            if time.monotonic() > deadline:
                pytest.fail(f"make prod not ready in {STARTUP_TIMEOUT} s:\n{running.output()}")
            time.sleep(0.5)
        running.started = running.descendants()
        yield running
    finally:
        running.started = running.started or running.descendants()  # if it never got ready
        running.stop()
        running.kill()


def call(prod: Prod, method: str, path: str, *, token=None, body=None, expect=(200, 201)):
    status, payload = http_call(prod.ports["web"], method, path, token=token, body=body)
    assert status in expect, (method, path, status, payload[:500])
    return json.loads(payload) if payload else None


def spectator(sockets: contextlib.ExitStack, port: int, tournament_id: int):
    """A spectator's socket on the daphne at ``port``, with the version of its snapshot."""
    socket = sockets.enter_context(
        connect(
            f"ws://127.0.0.1:{port}/ws/tournaments/{tournament_id}/",
            origin=f"http://127.0.0.1:{port}",
            open_timeout=10,
        )
    )
    snapshot = json.loads(socket.recv(timeout=10))
    assert snapshot["type"] == "snapshot", snapshot
    return socket, snapshot["version"]


def events_until(socket, last_event: str) -> list[tuple[int, str]]:
    frames = []
    while not frames or frames[-1][1] != last_event:
        frame = json.loads(socket.recv(timeout=15))
        assert frame["type"] == "event", frame
        frames.append((frame["version"], frame["event"]))
    return frames


def test_make_prod_serves_rest_on_gunicorn_live_events_on_daphne_and_stops_clean(prod):
    commands = [command_line(pid) for pid in prod.started]
    for part in ("honcho start", "gunicorn project.wsgi", "celery -A project worker"):
        assert sum(part in c for c in commands) >= 1, (part, commands)
    assert sum("daphne" in c for c in commands) == 2, commands
    assert sum("celery -A project beat" in c for c in commands) == 1, commands
    # gunicorn's master and its workers (gunicorn.conf.py: 2 unless WEB_CONCURRENCY says)
    assert sum("gunicorn project.wsgi" in c for c in commands) >= 2, commands

    def register(name: str) -> dict:
        return call(
            prod, "POST", "/api/auth/register", body={"username": name, "password": PASSWORD}
        )

    organizer, alice, bob = register("organizer"), register("alice"), register("bob")
    cup = call(
        prod,
        "POST",
        "/api/tournaments",
        token=organizer["token"],
        body={"name": "Prod Cup", "format": "single_elimination", "max_participants": 2},
    )
    with contextlib.ExitStack() as stack:
        sockets = [spectator(stack, prod.ports[name], cup["id"]) for name in ("ws1", "ws2")]
        # Writes through gunicorn; their events leave from its workers' publishers.
        path = f"/api/tournaments/{cup['id']}"
        joined = [
            call(prod, "POST", f"{path}/join", token=p["token"], body={}) for p in (alice, bob)
        ]
        call(prod, "POST", f"{path}/start", token=organizer["token"], body={})
        final = call(prod, "GET", f"{path}/bracket")["matches"][0]
        for player in (alice, bob):  # a report, then the agreeing one: the match completes
            body = {"winner": joined[0]["id"]}
            call(
                prod, "POST", f"/api/matches/{final['id']}/report", token=player["token"], body=body
            )
        seen = []
        for socket, version in sockets:
            frames = events_until(socket, "tournament.completed")
            assert [v for v, _ in frames] == list(range(version + 1, version + 1 + len(frames)))
            seen.append(frames)
    assert seen[0] == seen[1]  # each daphne got every event, in order
    # The pages and their static files come from gunicorn too (WhiteNoise, collected).
    status, page = http_call(prod.ports["web"], "GET", f"/tournaments/{cup['id']}/live")
    assert status == 200
    script = re.search(rb'src="(/static/[^"]+\.js)"', page).group(1).decode()
    assert http_call(prod.ports["web"], "GET", script)[0] == 200
    names = [name for _, name in seen[0]]
    assert names[:3] == ["participant.joined", "participant.joined", "tournament.started"]
    assert "match.updated" in names and "match.completed" in names

    # The Celery worker ran the task the completing report enqueued.
    ran = re.compile(r"Task notifications\.tasks\.match_result_confirmed_send\[\S+\] succeeded")
    deadline = time.monotonic() + 30
    while not ran.search(prod.output()):
        assert time.monotonic() < deadline, prod.output()[-4000:]
        time.sleep(0.2)
    assert "beat: Starting..." in prod.output()

    # Ctrl-C: honcho stops every process, and nothing it started is left.
    assert prod.stop() == []
    assert prod.process.returncode is not None
    output = prod.output()
    for name in ("web", "ws1", "ws2", "worker", "beat"):  # honcho says so for each
        assert re.search(rf"system *\| {name}\.1 stopped \(rc=", output), (name, output[-3000:])


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""
