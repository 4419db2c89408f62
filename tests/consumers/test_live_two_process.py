"""Two daphne processes sharing Redis and PostgreSQL, as in production: a spectator on
process A sees what a player reports through process B's REST API, and the player's own
match socket on A gets the same event.

The processes read the test database, so the data is committed (``transactional_db``).
"""

import asyncio
import json

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from matches.models import Match
from matches.services import tournament_start
from tests.processes import daphnes_running, http_call
from tournaments.services import tournament_create, tournament_join

TIMEOUT = 10


@pytest.fixture
def servers(transactional_db):
    """Two daphne processes on the test database and the tests' Redis database."""
    with daphnes_running(2, DATABASE_POOL_MAX_SIZE="2") as ports:
        yield ports


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
