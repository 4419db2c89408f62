"""The live sockets (consumers.live, consumers.hub) on PostgreSQL and Redis.

The consumers read on their own threads, so these tests use ``transactional_db``: what a
fixture or a service writes is committed and visible to them. Changes are made through
the services, whose events reach the sockets the production way: after commit, through
the Redis channel layer, to the test's event-loop hub.
"""

import asyncio
import json
import re
import struct
import time
from types import SimpleNamespace

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.authtoken.models import Token

from consumers import hub as hub_module
from consumers import selectors
from consumers.hub import Outbox, db_call
from matches.models import Match
from matches.services import tournament_start
from project.asgi import application
from tests.consumers.wire import handshake, read_until, server_running
from tournaments import events as events_module
from tournaments.services import tournament_create, tournament_join

ORIGIN = (b"origin", b"http://testserver")
TIMEOUT = 5


@pytest.fixture(autouse=True)
async def _live(monkeypatch):
    # A topic is dropped as soon as its last listener leaves; whatever is left is stopped
    # inside the test's event loop, before it closes (the Redis layer outlives the loop).
    monkeypatch.setattr(hub_module, "LINGER", 0)
    yield
    hub = hub_module._hubs.get(asyncio.get_running_loop())
    if hub is not None:
        await hub.aclose()


@pytest.fixture
def cup(transactional_db, make_user):
    organizer = make_user("organizer")
    tournament = tournament_create(
        organizer=organizer, name="Live Cup", format="single_elimination", max_participants=64
    )
    return SimpleNamespace(tournament=tournament, organizer=organizer, make_user=make_user)


@pytest.fixture
def duel(transactional_db, make_user):
    """A started two-player tournament: one match, ready to be reported."""
    organizer, alice, bob, eve = (make_user(n) for n in ("org", "alice", "bob", "eve"))
    tournament = tournament_create(
        organizer=organizer, name="Duel", format="single_elimination", max_participants=2
    )
    pa = tournament_join(tournament_id=tournament.pk, user=alice)
    pb = tournament_join(tournament_id=tournament.pk, user=bob)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = Match.objects.get(tournament=tournament)
    return SimpleNamespace(
        tournament=tournament,
        match=match,
        organizer=organizer,
        alice=alice,
        bob=bob,
        eve=eve,
        pa=pa,
        pb=pb,
    )


def token_of(user) -> str:
    return Token.objects.get(user=user).key


async def connect(path: str, *headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator


async def receive(communicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def receive_close(communicator) -> int:
    message = await communicator.receive_output(timeout=TIMEOUT)
    while message["type"] == "websocket.send":  # frames queued before the close
        message = await communicator.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def join(cup, name: str):
    def do():
        user = cup.make_user(name)
        return tournament_join(tournament_id=cup.tournament.pk, user=user)

    return await db_call(do)


async def events_until(communicator, version: int) -> list[int]:
    versions = []
    while not versions or versions[-1] < version:
        frame = await receive(communicator)
        assert frame["type"] == "event", frame
        versions.append(frame["version"])
    return versions


# --- /ws/tournaments/{id}/ ---------------------------------------------------------------------


async def test_snapshot_first_then_every_event(cup):
    await join(cup, "early")
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot"
    assert snapshot["version"] == 1
    assert snapshot["tournament"]["id"] == cup.tournament.pk
    assert [p["name"] for p in snapshot["participants"]] == ["early"]
    assert snapshot["matches"] == []

    await join(cup, "late")
    event = await receive(ws)
    assert event["type"] == "event"
    assert (event["version"], event["event"]) == (2, "participant.joined")
    assert event["data"]["participant"]["name"] == "late"
    assert event["data"]["tournament"]["participant_count"] == 2
    await ws.disconnect()


async def test_since_replays_exactly_the_missed_events_then_live(cup):
    for i in range(5):
        await join(cup, f"p{i}")
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=2")
    replay = [await receive(ws) for _ in range(3)]
    assert [(f["type"], f["version"]) for f in replay] == [("event", 3), ("event", 4), ("event", 5)]
    await join(cup, "p5")
    assert (await receive(ws))["version"] == 6
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


async def test_since_the_current_version_sends_only_live_events(cup):
    await join(cup, "p0")
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=1")
    assert await ws.receive_nothing(timeout=0.2)
    await join(cup, "p1")
    assert (await receive(ws))["version"] == 2
    await ws.disconnect()


async def test_resuming_beside_a_watching_socket_sends_only_live_events_once(cup):
    """A second socket resumes at the version the first one already watches live; both
    then get every later event once."""
    watcher = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    assert (await receive(watcher))["type"] == "snapshot"
    await join(cup, "p0")
    assert (await receive(watcher))["version"] == 1
    resumer = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=1")
    assert await resumer.receive_nothing(timeout=0.2)
    await join(cup, "p1")
    await join(cup, "p2")
    for ws in (watcher, resumer):
        assert await events_until(ws, 3) == [2, 3]
        assert await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()


async def test_the_authentication_stack_serves_the_spectator_socket_alike(cup):
    """``project.asgi`` serves spectators past the authentication stack; the stack's own
    route (``consumers.routing``) gives the same frames."""
    from project.asgi import websocket_app

    await join(cup, "p0")
    ws = WebsocketCommunicator(
        websocket_app, f"/ws/tournaments/{cup.tournament.pk}/?since=0", headers=[ORIGIN]
    )
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    assert (await receive(ws))["version"] == 1
    await join(cup, "p1")
    assert (await receive(ws))["version"] == 2
    await ws.send_to(text_data="garbage")
    assert (await receive(ws))["code"] == "malformed_json"
    await ws.disconnect()


async def test_since_older_than_the_kept_log_gets_a_snapshot(cup):
    for i in range(3):
        await join(cup, f"p{i}")
    await db_call(lambda: cup.tournament.events.filter(version__lte=2).delete())
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=0")
    frame = await receive(ws)
    assert (frame["type"], frame["version"]) == ("snapshot", 3)
    await ws.disconnect()


async def test_bad_since_gets_an_error_and_a_snapshot(cup):
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=%C2%B2")
    assert (await receive(ws))["code"] == "invalid_since"
    assert (await receive(ws))["type"] == "snapshot"
    await ws.disconnect()


async def test_unknown_tournament_is_closed_with_4404(transactional_db):
    ws = await connect("/ws/tournaments/999999/")
    assert await receive_close(ws) == 4404


@pytest.mark.parametrize("moment", ["before_the_read", "after_the_read"])
async def test_an_event_committed_while_connecting_is_delivered_exactly_once(
    cup, monkeypatch, moment
):
    """The seam: the join commits between the subscription and the log read, or between
    the read and the switch to live; either way the client sees it once, in order."""
    for i in range(2):
        await join(cup, f"p{i}")
    read = selectors.tournament_events_after
    seam = []

    def read_with_a_commit_beside(**kwargs):
        if seam:  # only the connecting client's read
            return read(**kwargs)
        seam.append(True)
        if moment == "before_the_read":
            tournament_join(tournament_id=cup.tournament.pk, user=cup.make_user("seam"))
            return read(**kwargs)
        result = read(**kwargs)
        tournament_join(tournament_id=cup.tournament.pk, user=cup.make_user("seam"))
        return result

    monkeypatch.setattr(selectors, "tournament_events_after", read_with_a_commit_beside)
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/?since=1")
    first = await receive(ws)
    assert first["version"] == 2
    assert seam == [True]
    await join(cup, "after")
    assert await events_until(ws, 4) == [3, 4]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_clients_connecting_during_a_burst_see_every_version_once(cup):
    """Joins commit from threads while clients connect, with and without since."""
    await join(cup, "p0")

    def burst():
        for i in range(12):
            cup_join(f"b{i}")

    def cup_join(name):
        tournament_join(tournament_id=cup.tournament.pk, user=cup.make_user(name))

    writer = asyncio.ensure_future(db_call(burst))
    clients = []
    for since in (None, 0, 1, None, 1):
        query = "" if since is None else f"?since={since}"
        clients.append((since, await connect(f"/ws/tournaments/{cup.tournament.pk}/{query}")))
        await asyncio.sleep(0.01)
    await writer
    for since, ws in clients:
        first = await receive(ws)
        if first["type"] == "snapshot":
            start, versions = first["version"], []
        else:
            start, versions = since, [first["version"]]
        if not versions or versions[-1] < 13:
            versions += await events_until(ws, 13)
        assert versions == list(range(start + 1, 14)), (since, start, versions)
        await ws.disconnect()


async def test_a_lost_layer_message_is_recovered_from_the_log(cup, monkeypatch):
    """At-most-once delivery: event 2's message never arrives; event 3 reveals the gap and
    the hub reads 2 from the log."""
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    assert (await receive(ws))["type"] == "snapshot"
    publish = events_module._events_publish
    monkeypatch.setattr(events_module, "_events_publish", lambda *args: None)
    await join(cup, "lost")
    monkeypatch.setattr(events_module, "_events_publish", publish)
    await join(cup, "found")
    frames = [await receive(ws), await receive(ws)]
    assert [(f["version"], f["data"]["participant"]["name"]) for f in frames] == [
        (1, "lost"),
        (2, "found"),
    ]
    await ws.disconnect()


async def test_a_lost_last_message_is_recovered_by_the_sweep(cup, monkeypatch):
    monkeypatch.setattr(hub_module, "SWEEP_INTERVAL", 0.2)
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    assert (await receive(ws))["type"] == "snapshot"
    monkeypatch.setattr(events_module, "_events_publish", lambda *args: None)
    await join(cup, "lost")
    assert (await receive(ws))["version"] == 1
    await ws.disconnect()


async def test_many_sockets_of_one_process_share_one_subscription(cup):
    sockets = [await connect(f"/ws/tournaments/{cup.tournament.pk}/") for _ in range(3)]
    for ws in sockets:
        await receive(ws)
    hub = hub_module.hub_get()
    assert list(hub.topics) == [cup.tournament.pk]
    assert len(hub.topics[cup.tournament.pk].listeners) == 3
    await join(cup, "p")
    frames = [await ws.receive_from(timeout=TIMEOUT) for ws in sockets]
    assert len(set(frames)) == 1  # the same encoded frame
    for ws in sockets:
        await ws.disconnect()
    await asyncio.sleep(0.05)
    assert hub.topics == {}


async def test_a_lost_subscription_is_renewed_by_the_sweep(cup, monkeypatch):
    """Redis lost the group (flushed, or restarted without persistence): nothing arrives.
    The sweep recovers what the log has, and renews the subscription, so that the next
    event comes live again rather than from the next sweep."""
    monkeypatch.setattr(hub_module, "SWEEP_INTERVAL", 0.2)
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    assert (await receive(ws))["type"] == "snapshot"
    hub = hub_module.hub_get()
    await hub.layer.group_discard(events_module.tournament_group(cup.tournament.pk), hub.channel)
    await join(cup, "unheard")
    assert (await receive(ws))["version"] == 1  # from the log, by the sweep
    monkeypatch.setattr(hub_module, "SWEEP_INTERVAL", 3600)
    await asyncio.sleep(0.5)  # the sweep's current sleep ends; no sweep after it
    await join(cup, "heard")
    frame = json.loads(await ws.receive_from(timeout=2))
    assert (frame["version"], frame["data"]["participant"]["name"]) == (2, "heard")
    await ws.disconnect()


# --- The outbox on its transport, and on real servers --------------------------------------------


class RecordingTransport:
    """A transport as ``consumers.transports.Transport`` describes it, that writes into a
    list while ``writing``, and whose ``paused`` the test sets."""

    name = "recording"

    def __init__(self):
        self.written: list[str] = []
        self.writing = True
        self.paused = False
        self.released = False
        self._resumed = asyncio.Event()

    def write(self, text: str) -> bool:
        if self.writing:
            self.written.append(text)
        return self.writing

    def resume(self) -> None:
        self.paused = False
        self._resumed.set()

    async def resumed(self) -> None:
        await self._resumed.wait()
        self._resumed.clear()

    def release(self) -> None:
        self.released = True

    def buffered(self) -> int | None:
        return None


async def test_an_outbox_writes_through_its_transport_holds_back_while_paused_and_keeps_order(
    monkeypatch,
):
    transport = RecordingTransport()
    monkeypatch.setattr(hub_module, "transport_for", lambda send: transport)
    sent = []

    async def send(message):
        sent.append(message.get("text", message.get("code")))

    outbox = Outbox(send, on_slow=lambda: None)
    outbox.put("a")  # written, no task
    assert (transport.written, sent, outbox.writer) == (["a"], [], None)
    transport.writing = False
    outbox.put("b")  # declined: through ASGI
    assert sent == ["b"] and outbox.writer is None
    transport.writing, transport.paused = True, True
    for item in ("c", "d", 4408):
        outbox.put(item)
    await asyncio.sleep(0.01)
    assert (transport.written, sent) == (["a"], ["b"])  # held back while paused
    transport.resume()
    await asyncio.sleep(0.01)
    assert (transport.written, sent) == (["a", "c", "d"], ["b", 4408])  # the close after them
    assert outbox.writer is None and outbox.items is None
    outbox.stop()
    assert transport.released


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_client_that_does_not_read_is_held_back_then_closed_with_4408(server):
    """A real server process: the outbox gets the server's transport, writes frames while
    the client reads, holds them back when the server's buffer is full instead of
    buffering without limit, and gives up at the backlog limit (closing with 4408). What
    the client gets is an unbroken prefix of the frames."""
    with server_running(server, "tests.outbox_app:application") as (port, process):
        sock = handshake(port)
        time.sleep(3)  # not reading: the kernel's and the server's buffers fill
        # Until daphne drops the connection (it aborts it when no closing handshake comes).
        frames = read_until(sock, lambda frames: False)
        sock.close()
    stderr = process.stderr_text
    assert f"transport={server}" in stderr, stderr[-2000:]
    slow = re.search(r"slow at (\d+) server_buffer=(\d+)", stderr)
    assert slow, stderr[-2000:]
    assert int(slow[1]) < 20000
    assert int(slow[2]) < 256 * 1024  # the server's buffer stayed bounded (~64 KiB)
    texts = [payload for opcode, payload in frames if opcode == 1]
    numbers = [int(payload.split(b":", 1)[0]) for payload in texts]
    assert numbers == list(range(len(numbers)))  # in order, no gap, no duplicate
    assert 0 < len(numbers) <= int(slow[1])
    closes = [payload for opcode, payload in frames if opcode == 8]
    # The close frame waits behind the full buffer; daphne may drop the connection first.
    assert all(struct.unpack("!H", payload[:2])[0] == 4408 for payload in closes)


# --- client frames -----------------------------------------------------------------------------


async def test_a_bad_frame_gets_an_error_and_the_connection_survives(cup):
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    await receive(ws)
    for text, code in [
        ("{not json", "malformed_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"action": "dance"}', "unknown_action"),
        ("x" * 5000, "frame_too_large"),
    ]:
        await ws.send_to(text_data=text)
        frame = await receive(ws)
        assert (frame["type"], frame["code"]) == ("error", code)
    await ws.send_to(bytes_data=b"\x00")
    assert (await receive(ws))["code"] == "text_only"
    await join(cup, "still-here")
    assert (await receive(ws))["type"] == "event"
    await ws.disconnect()


async def test_a_client_that_keeps_sending_garbage_is_closed(cup):
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    await receive(ws)
    for _ in range(6):
        await ws.send_to(text_data="garbage")
    assert await receive_close(ws) == 4400


async def test_a_flooding_client_is_closed(cup):
    ws = await connect(f"/ws/tournaments/{cup.tournament.pk}/")
    await receive(ws)
    for _ in range(40):
        await ws.send_to(text_data='{"action": "auth", "token": "x"}')
    assert await receive_close(ws) == 4429


async def test_a_socket_that_stops_draining_is_closed_with_the_resume_code(monkeypatch):
    """Outbox: the client's send never completes (its buffer stays full); the backlog is
    dropped and the slow hook fires instead of memory growing."""
    monkeypatch.setattr(hub_module, "STALL_SECONDS", 0.05)
    stuck = asyncio.Event()
    slow = []

    async def send(message):
        await stuck.wait()

    outbox = Outbox(send, on_slow=lambda: slow.append(True))
    outbox.put("frame-1")
    outbox.put("frame-2")
    await asyncio.sleep(0.1)
    outbox.put("frame-3")
    assert slow == [True]
    assert not outbox.items
    outbox.put("frame-4")  # ignored once closed
    assert not outbox.items
    outbox.stop()
    assert hub_module.CLOSE_SLOW == 4408


async def test_an_outbox_keeps_the_order_when_a_send_has_to_wait():
    gate = asyncio.Event()
    written = []

    async def send(message):
        if not written and not gate.is_set():
            await gate.wait()
        written.append(message.get("text", message.get("code")))

    outbox = Outbox(send, on_slow=lambda: None)
    for item in ("a", "b", "c", 4408):
        outbox.put(item)
    await asyncio.sleep(0.01)
    assert written == []
    gate.set()
    await asyncio.sleep(0.01)
    assert written == ["a", "b", "c", 4408]
    assert outbox.writer is None


# --- /ws/matches/{id}/ -------------------------------------------------------------------------


async def expect_match_snapshot(ws, duel):
    frame = await receive(ws)
    assert frame["type"] == "snapshot"
    assert frame["match"]["id"] == duel.match.pk
    assert frame["version"] == duel.tournament.version + 0 or frame["version"] >= 3
    return frame


async def test_match_socket_by_token_header(duel):
    header = (b"authorization", f"Token {await db_call(token_of, user=duel.alice)}".encode())
    ws = await connect(f"/ws/matches/{duel.match.pk}/", header)
    snapshot = await expect_match_snapshot(ws, duel)
    assert snapshot["match"]["status"] == "ready"
    await ws.disconnect()


async def test_match_socket_by_session_cookie(duel):
    def session_key():
        client = Client()
        client.force_login(duel.bob, backend="django.contrib.auth.backends.ModelBackend")
        return client.cookies["sessionid"].value

    cookie = (b"cookie", f"sessionid={await db_call(session_key)}".encode())
    ws = await connect(f"/ws/matches/{duel.match.pk}/", cookie)
    await expect_match_snapshot(ws, duel)
    await ws.disconnect()


async def test_match_socket_by_auth_frame(duel):
    ws = await connect(f"/ws/matches/{duel.match.pk}/")
    assert await ws.receive_nothing(timeout=0.1)
    token = await db_call(token_of, user=duel.organizer)
    await ws.send_json_to({"action": "auth", "token": token})
    await expect_match_snapshot(ws, duel)
    await ws.disconnect()


@pytest.mark.parametrize(
    "first_frame",
    [
        {"action": "report", "winner": 1},
        {"action": "auth", "token": "not-a-token"},
        "not json",
    ],
)
async def test_match_socket_closes_the_unauthenticated_with_4401(duel, first_frame):
    ws = await connect(f"/ws/matches/{duel.match.pk}/")
    if isinstance(first_frame, dict):
        await ws.send_json_to(first_frame)
    else:
        await ws.send_to(text_data=first_frame)
    assert await receive_close(ws) == 4401


async def test_match_socket_with_a_bad_token_header_is_unauthenticated(duel):
    ws = await connect(f"/ws/matches/{duel.match.pk}/", (b"authorization", b"Token nope"))
    await ws.send_json_to({"action": "report", "winner": duel.pa.pk})
    assert await receive_close(ws) == 4401


async def test_match_socket_closes_others_with_4403(duel):
    header = (b"authorization", f"Token {await db_call(token_of, user=duel.eve)}".encode())
    ws = await connect(f"/ws/matches/{duel.match.pk}/", header)
    assert await receive_close(ws) == 4403


async def test_report_and_resolve_over_the_socket_answer_like_rest(duel):
    alice = (b"authorization", f"Token {await db_call(token_of, user=duel.alice)}".encode())
    ws = await connect(f"/ws/matches/{duel.match.pk}/", alice)
    await expect_match_snapshot(ws, duel)

    await ws.send_json_to(
        {"action": "report", "winner": duel.pa.pk, "scores": [2, 1], "request_id": "r1"}
    )
    frames = [await receive(ws), await receive(ws)]
    reply = next(f for f in frames if f["type"] == "reply")
    event = next(f for f in frames if f["type"] == "event")
    assert reply["request_id"] == "r1" and reply["ok"] is True
    assert reply["match"]["status"] == "awaiting_confirmation"
    assert (event["event"], event["data"]["match"]["id"]) == ("match.updated", duel.match.pk)

    await ws.send_json_to({"action": "report", "winner": duel.pa.pk, "request_id": "r2"})
    reply = await receive(ws)
    assert (reply["ok"], reply["code"], reply["request_id"]) == (False, "already_reported", "r2")

    await ws.send_json_to({"action": "report", "winner": "x", "request_id": "r3"})
    reply = await receive(ws)
    assert (reply["ok"], reply["code"]) == (False, "invalid")
    assert "winner" in reply["fields"]

    await ws.send_json_to({"action": "resolve", "winner": duel.pa.pk, "request_id": "r4"})
    reply = await receive(ws)
    assert (reply["ok"], reply["code"]) == (False, "not_organizer")
    await ws.disconnect()

    organizer = (b"authorization", f"Token {await db_call(token_of, user=duel.organizer)}".encode())
    ws = await connect(f"/ws/matches/{duel.match.pk}/", organizer)
    await expect_match_snapshot(ws, duel)
    await ws.send_json_to({"action": "resolve", "winner": duel.pb.pk, "request_id": 7})
    frames = [await receive(ws), await receive(ws)]
    reply = next(f for f in frames if f["type"] == "reply")
    assert (reply["ok"], reply["request_id"]) == (True, 7)
    assert (reply["match"]["status"], reply["match"]["winner"]) == ("completed", duel.pb.pk)
    event = next(f for f in frames if f["type"] == "event")
    assert event["event"] == "match.completed"
    await ws.disconnect()


async def test_unknown_match_is_closed_with_4404(duel):
    header = (b"authorization", f"Token {await db_call(token_of, user=duel.alice)}".encode())
    ws = await connect("/ws/matches/999999/", header)
    assert await receive_close(ws) == 4404


async def test_a_socket_without_an_allowed_origin_is_refused(duel):
    communicator = WebsocketCommunicator(
        application, f"/ws/tournaments/{duel.tournament.pk}/", headers=[(b"origin", b"http://evil")]
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert not connected
