"""Two daphne processes sharing Redis and PostgreSQL, as in production: a spectator on
process A sees what a player reports through process B's REST API, and the player's own
match socket on A gets the same event.

The processes read the test database, so the data is committed (``transactional_db``).
"""

import asyncio
import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from matches.models import Match
from matches.services import tournament_start
from tests.processes import database_url_of_the_tests, free_port
from tournaments.services import tournament_create, tournament_join

PROJECT_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = 10


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


@pytest.fixture
def servers(transactional_db):
    """Two daphne processes on the test database and the tests' Redis database."""
    env = dict(
        os.environ,
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database_url_of_the_tests(),
        REDIS_URL=settings.REDIS_URL,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        CELERY_TASK_ALWAYS_EAGER="1",
        DATABASE_POOL_MAX_SIZE="2",
        PYTHONUNBUFFERED="1",
    )
    ports = [free_port(), free_port()]
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
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
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


@pytest.fixture
def duel(transactional_db, make_user):
    organizer, alice, bob = (make_user(n) for n in ("org", "alice", "bob"))
    tournament = tournament_create(
        organizer=organizer, name="Duel", format="single_elimination", max_participants=2
    )
    alice_side = tournament_join(tournament_id=tournament.pk, user=alice)
    tournament_join(tournament_id=tournament.pk, user=bob)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = Match.objects.get(tournament=tournament)
    return {
        "tournament": tournament.pk,
        "match": match.pk,
        "winner": alice_side.pk,
        "alice": Token.objects.get(user=alice).key,
        "bob": Token.objects.get(user=bob).key,
    }


async def test_a_spectator_on_one_process_sees_a_report_made_through_the_other(servers, duel):
    a, b = servers
    origin = f"http://127.0.0.1:{a}"
    spectator = await connect(
        f"ws://127.0.0.1:{a}/ws/tournaments/{duel['tournament']}/",
        origin=origin,
        open_timeout=TIMEOUT,
    )
    player = await connect(
        f"ws://127.0.0.1:{a}/ws/matches/{duel['match']}/",
        origin=origin,
        additional_headers={"Authorization": f"Token {duel['bob']}"},
        open_timeout=TIMEOUT,
    )
    async with spectator, player:
        snapshot = json.loads(await asyncio.wait_for(spectator.recv(), TIMEOUT))
        assert snapshot["type"] == "snapshot"
        assert [m["id"] for m in snapshot["matches"]] == [duel["match"]]
        assert json.loads(await asyncio.wait_for(player.recv(), TIMEOUT))["type"] == "snapshot"

        status, body = await asyncio.to_thread(
            http_call,
            b,
            "POST",
            f"/api/matches/{duel['match']}/report",
            token=duel["alice"],
            body={"winner": duel["winner"], "scores": [2, 0]},
        )
        assert status == 200, body

        event = json.loads(await asyncio.wait_for(spectator.recv(), TIMEOUT))
        assert (event["type"], event["version"], event["event"]) == (
            "event",
            snapshot["version"] + 1,
            "match.updated",
        )
        assert event["data"]["match"]["status"] == "awaiting_confirmation"
        mine = json.loads(await asyncio.wait_for(player.recv(), TIMEOUT))
        assert mine == event
