"""project/handlers.py: HTTP through the ASGI application runs its middleware in one thread."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import iscoroutinefunction
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from rest_framework.authtoken.models import Token

from project.asgi import application
from project.handlers import RequestThreads, SyncChainASGIHandler
from tournaments.models import Participant, TeamMember
from tournaments.services import team_create, tournament_create

pytestmark = pytest.mark.django_db(transaction=True)


async def respond(communicator: HttpCommunicator) -> dict:
    """The response, once the application has finished: after the body it still closes the
    response on the request's thread (``request_finished``, which closes the connection)."""
    response = await communicator.get_response()
    await communicator.wait(timeout=5)
    return response


async def get(path: str = "/api/tournaments") -> dict:
    return await respond(
        HttpCommunicator(application, "GET", path, headers=[(b"host", b"testserver")])
    )


def test_the_middleware_chain_is_built_sync_and_called_through_one_hop():
    handler = SyncChainASGIHandler()
    assert not iscoroutinefunction(handler._middleware_chain)
    assert iscoroutinefunction(handler.get_response_async)


async def test_a_request_goes_through_every_middleware():
    response = await get()

    assert response["status"] == 200
    headers = {k.decode().lower(): v.decode() for k, v in response["headers"]}
    assert headers["x-frame-options"] == "DENY"  # XFrameOptionsMiddleware, last in the chain
    assert headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware, first
    assert json.loads(response["body"])["results"] == []


async def test_a_join_over_asgi_runs_in_one_thread_and_answers_201(make_user, monkeypatch):
    def setup():
        organizer, captain = make_user(), make_user(funds=10)
        tournament = tournament_create(
            organizer=organizer, name="Cup", format="round_robin", team_size=2,
            max_participants=4, entry_fee=10,
        )  # fmt: skip
        team = team_create(user=captain, name="Pair")
        TeamMember.objects.create(team=team, user=make_user(funds=10))
        return tournament, team, Token.objects.get(user=captain).key

    tournament, team, token = await database_sync_to_async(setup)()
    threads = set()
    real_get_response = SyncChainASGIHandler.get_response

    def get_response(self, request):
        threads.add(threading.get_ident())
        response = real_get_response(self, request)
        # The view ran inside this call, on this thread: no hop back to the event loop.
        threads.add(threading.get_ident())
        return response

    monkeypatch.setattr(SyncChainASGIHandler, "get_response", get_response)
    body = json.dumps({"team": team.pk}).encode()
    communicator = HttpCommunicator(
        application,
        "POST",
        f"/api/tournaments/{tournament.pk}/join",
        body=body,
        headers=[(b"host", b"testserver"), (b"authorization", f"Token {token}".encode()),
                 (b"content-type", b"application/json"),
                 (b"content-length", str(len(body)).encode())],
    )  # fmt: skip
    response = await respond(communicator)

    assert response["status"] == 201, response["body"]
    body = json.loads(response["body"])
    assert body["team"] == team.pk and len(body["members"]) == 2
    assert len(threads) == 1 and threading.get_ident() not in threads
    joined = Participant.objects.filter(tournament=tournament)
    assert await database_sync_to_async(joined.count)() == 1


async def test_requests_one_after_another_reuse_one_thread(monkeypatch):
    threads = []
    real_get_response = SyncChainASGIHandler.get_response

    def get_response(self, request):
        threads.append(threading.get_ident())
        return real_get_response(self, request)

    monkeypatch.setattr(SyncChainASGIHandler, "get_response", get_response)
    for _ in range(3):
        assert (await get())["status"] == 200
    started = threading.active_count()
    for _ in range(3):
        assert (await get())["status"] == 200

    assert len(threads) == 6 and len(set(threads)) == 1
    assert threading.active_count() == started  # no thread made, none left to join


async def test_concurrent_requests_still_run_on_threads_of_their_own(monkeypatch):
    # Each view waits until the other one has started: on a shared thread they would
    # deadlock (the barrier breaks after its timeout and the request fails with a 500).
    both_running = threading.Barrier(2, timeout=10)
    threads = set()
    real_get_response = SyncChainASGIHandler.get_response

    def get_response(self, request):
        threads.add(threading.get_ident())
        both_running.wait()
        return real_get_response(self, request)

    monkeypatch.setattr(SyncChainASGIHandler, "get_response", get_response)
    first, second = await asyncio.gather(get(), get())

    assert first["status"] == second["status"] == 200
    assert len(threads) == 2


def test_idle_request_threads_beyond_the_limit_are_let_go():
    threads = RequestThreads(keep=1)
    first, second = threads.borrow(), threads.borrow()
    assert first is not second
    threads.give_back(first)
    threads.give_back(second)  # one too many: shut down

    assert threads.idle == [first]
    assert threads.borrow() is first
    with pytest.raises(RuntimeError):  # "cannot schedule new futures after shutdown"
        second.submit(print)
