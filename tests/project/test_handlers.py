"""project/handlers.py: HTTP through the ASGI application runs its middleware in one thread."""

import asyncio
import inspect
import json
import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.utils.deprecation import MiddlewareMixin
from rest_framework.authtoken.models import Token

from project import handlers
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


class OutermostProbe(MiddlewareMixin):
    """First in the chain, and like most middleware usable sync or async: notes the thread
    and the frame that called its ``process_request``."""

    def process_request(self, request):
        CHAIN_SEEN["outermost"] = (threading.get_ident(), inspect.currentframe().f_back)


class ViewProbe(MiddlewareMixin):
    """``process_view``, called right before the view: notes its thread and the code
    between it and the frame that called the outermost probe (None: that frame is not on
    the stack any more, the request went back to the event loop in between)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        _, outermost = CHAIN_SEEN["outermost"]
        between, frame = [], inspect.currentframe().f_back
        while frame is not None and frame is not outermost:
            between.append(frame.f_code.co_filename)
            frame = frame.f_back
        CHAIN_SEEN["view"] = (threading.get_ident(), between if frame else None)


CHAIN_SEEN: dict = {}


async def test_the_middleware_chain_and_the_view_run_as_one_call_on_one_thread(settings):
    """From the first middleware to the view, one synchronous call on a request thread: no
    hop back to the event loop in between (Django's own ASGI handler runs middleware that
    can be async on the event loop, and their sync parts and the view through asgiref)."""
    settings.MIDDLEWARE = [
        "tests.project.test_handlers.OutermostProbe",
        *settings.MIDDLEWARE,
        "tests.project.test_handlers.ViewProbe",
    ]
    CHAIN_SEEN.clear()
    handler = SyncChainASGIHandler()
    communicator = HttpCommunicator(
        handler, "GET", "/api/tournaments", headers=[(b"host", b"testserver")]
    )
    response = await respond(communicator)

    assert response["status"] == 200
    (outer_thread, _), (view_thread, between) = CHAIN_SEEN["outermost"], CHAIN_SEEN["view"]
    CHAIN_SEEN.clear()
    assert outer_thread == view_thread != threading.get_ident()
    assert between is not None, "the view ran outside the outermost middleware's call"
    assert not [path for path in between if "asgiref" in path]


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


def test_the_handler_refuses_an_asgiref_whose_thread_sensitive_context_takes_no_executor(
    monkeypatch,
):
    class ContextBefore313:  # asgiref 3.12's signature
        def __init__(self) -> None:
            pass

    monkeypatch.setattr(handlers, "ThreadSensitiveContext", ContextBefore313)

    with pytest.raises(ImproperlyConfigured, match=r"executor=.*new in asgiref 3\.13"):
        SyncChainASGIHandler()
