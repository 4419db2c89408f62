"""Database connections lost under the service: PostgreSQL terminated every backend.

The pool checks a connection before handing it out (project/settings.py), so a request
that starts after the backends were terminated never sees a dead one; a read whose
connection dies while it runs is run again (project/middleware.py); tasks retry.
"""

import contextlib
import json

import pytest
from django.core import mail
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from matches.models import Match
from matches.services import tournament_start
from project.celery import DATABASE_ERRORS
from tests.processes import TIMEOUT, daphnes_running, http_call
from tournaments.services import tournament_create, tournament_join

pytestmark = pytest.mark.django_db(transaction=True)


def backends_terminate() -> int:
    """Terminate every other backend of the test database; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def pooled_daphne():
    with daphnes_running(1, DATABASE_POOL_MAX_SIZE="4") as (port,):
        yield port


def test_requests_right_after_the_backends_were_terminated_all_succeed(pooled_daphne, make_user):
    organizer = make_user()
    token = Token.objects.get(user=organizer).key
    tournament = tournament_create(
        organizer=organizer, name="Cup", format="swiss", max_participants=8
    )
    paths = ["/api/me", f"/api/tournaments/{tournament.pk}", "/api/tournaments"]
    for _ in range(3):  # the pool now holds connections
        for path in paths:
            assert http_call(pooled_daphne, "GET", path, token=token)[0] == 200

    assert backends_terminate() >= 1

    statuses = [
        http_call(pooled_daphne, "GET", path, token=token)[0] for _ in range(5) for path in paths
    ]
    player = make_user()
    joined, _ = http_call(
        pooled_daphne,
        "POST",
        f"/api/tournaments/{tournament.pk}/join",
        token=Token.objects.get(user=player).key,
        body={},
    )
    assert statuses == [200] * len(statuses)
    assert joined == 201


def test_a_read_whose_connection_dies_while_it_runs_is_run_again(anon, make_user, monkeypatch):
    from matches import views

    tournament = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=8
    )
    real = views.tournament_version
    calls = []

    def dying_then_working(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            # The connection's own backend goes away, as under pg_terminate_backend.
            with connection.cursor() as cursor, contextlib.suppress(*DATABASE_ERRORS):
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(**kwargs)

    monkeypatch.setattr(views, "tournament_version", dying_then_working)
    response = anon.get(f"/api/tournaments/{tournament.pk}")
    assert response.status_code == 200, response
    assert response.json()["id"] == tournament.pk
    assert len(calls) == 2
    connections.close_all()


def test_a_write_whose_connection_died_is_not_run_again():
    from project.middleware import LostConnectionReadRetry

    class Request:
        method = "POST"

    assert (
        LostConnectionReadRetry(lambda r: None).process_exception(
            Request(), DATABASE_ERRORS[0]("gone")
        )
        is None
    )


@pytest.fixture
def duel(make_user):
    """A started two-player single elimination: one ready match."""
    organizer, alice, bob = (
        make_user(name, email=f"{name}@example.com") for name in ("org", "alice", "bob")
    )
    tournament = tournament_create(
        organizer=organizer, name="Duel", format="single_elimination", max_participants=2
    )
    alice_side = tournament_join(tournament_id=tournament.pk, user=alice)
    tournament_join(tournament_id=tournament.pk, user=bob)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    return {
        "match": Match.objects.get(tournament=tournament).pk,
        "winner": alice_side.pk,
        "alice": Token.objects.get(user=alice).key,
    }


def test_a_match_socket_report_right_after_the_backends_were_terminated_succeeds(
    pooled_daphne, duel
):
    with connect(
        f"ws://127.0.0.1:{pooled_daphne}/ws/matches/{duel['match']}/",
        origin=f"http://127.0.0.1:{pooled_daphne}",
        additional_headers={"Authorization": f"Token {duel['alice']}"},
        open_timeout=TIMEOUT,
    ) as player:
        assert json.loads(player.recv(TIMEOUT))["type"] == "snapshot"
        assert backends_terminate() >= 1

        report = {"action": "report", "winner": duel["winner"], "scores": [2, 0]}
        player.send(json.dumps(report | {"request_id": "r1"}))
        while (frame := json.loads(player.recv(TIMEOUT)))["type"] != "reply":
            pass  # the report's own match.updated event may come first
    assert (frame["request_id"], frame["ok"]) == ("r1", True), frame
    assert frame["match"]["status"] == "awaiting_confirmation"


def test_a_notification_task_whose_connection_was_lost_is_retried(duel, monkeypatch):
    from notifications import services, tasks

    real = services.matches_list
    calls = []

    def lost_then_working(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise DATABASE_ERRORS[0]("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "matches_list", lost_then_working)
    mail.outbox.clear()
    # Run as a worker would, retries included (eagerly: a retry runs at once).
    result = tasks.match_ready_send.apply(args=[[duel["match"]]], throw=False)

    assert result.successful(), result.traceback
    assert len(calls) == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@example.com",
                                                               "bob@example.com"]  # fmt: skip
