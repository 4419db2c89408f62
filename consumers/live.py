"""The live sockets: ``/ws/tournaments/{id}/`` (anyone) and ``/ws/matches/{id}/`` (players).

The seam between the log and live delivery (API.md: every version exactly once, in order):

1. join the process's topic for the tournament (``consumers.hub``) while *buffering*: from
   here on every live event is kept;
2. read the log: a snapshot at version V, or the events after ``since`` up to V;
3. send that, then the buffered events with versions above V, then go live.

An event committed while the client connects is either inside the read (and its live copy,
≤ V, is dropped) or arrives live after step 1 (and is > V): never both, never neither.
The topic releases events in version order without gaps; should a listener still see a
gap (two listeners read the log at different moments before the topic had its baseline),
it buffers again and reads the missing versions from the log.

Close codes (besides API.md's 4401 and 4403):
4400 too many bad frames; 4404 no such tournament or match; 4408 the client fell behind
(``consumers.hub.CLOSE_SLOW``): reconnect with ``?since=<last version processed>``;
4429 frames sent too fast; 1011 the server could not read the log (retry later).
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser

from consumers import selectors
from consumers.hub import (
    BACKLOG_LIMIT,
    CLOSE_SLOW,
    Outbox,
    Topic,
    db_call,
    hub_get,
)
from matches.payloads import match_data
from matches.serializers import ResultInput
from project.domain_errors import NotFound
from project.encoding import json_text
from project.errors import socket_error_body
from tournaments.events import VERSION_PATTERN, LiveEvent

logger = logging.getLogger(__name__)

CLOSE_BAD_FRAMES = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_FLOOD = 4429
CLOSE_SERVER_ERROR = 1011

MAX_FRAME_CHARS = 4096
BAD_FRAMES_ALLOWED = 5  # error frames answered before the connection is closed
RATE = 5.0  # client frames per second, sustained
BURST = 20.0  # client frames at once
AUTH_TIMEOUT = 10.0  # s an unauthenticated match socket waits for its `auth` frame
REPLAY_LIMIT = 1000  # missed events beyond which a snapshot is sent instead
# Live events a socket keeps while it waits for its snapshot or replay; one more closes it
# with 4408, as a client that fell behind (consumers.hub.BACKLOG_LIMIT).
BUFFER_LIMIT = BACKLOG_LIMIT


class BadFrame(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


class LiveSocket:
    """What both sockets share: the outbox, the seam, client-frame hygiene.

    No per-socket channel-layer channel: live events come from the process's hub. Slots, not
    a ``__dict__``: an idle spectator should cost the server little more than its connection
    (``bench/memory.py``).
    """

    __slots__ = ("outbox", "topic", "last", "buffer", "strikes", "tokens", "tokens_at", "closing")

    def live_start(self, send) -> None:
        """Before the handshake: ``send`` is the server's (or Channels') ASGI send."""
        self.outbox = Outbox(send, on_slow=self._slow)
        self.topic: Topic | None = None
        self.last: int | None = None  # last version handed to the outbox
        self.buffer: list[LiveEvent] | None = []  # None once live
        self.strikes = 0
        self.tokens = BURST
        self.tokens_at: float | None = None  # of the last client frame; None: none yet
        self.closing = False

    # --- sending ---------------------------------------------------------------------------

    def frame(self, payload: dict) -> None:
        self.outbox.put(json_text(payload))

    def error(self, code: str, detail: str) -> None:
        self.frame({"type": "error", "code": code, "detail": detail})

    def close_with(self, code: int) -> None:
        """Close after the frames already queued."""
        if not self.closing:
            self.closing = True
            self._leave()
            self.outbox.put(code)

    def _slow(self) -> None:
        """The client stopped reading: drop its backlog, close at once (bounded memory)."""
        self.closing = True
        self._leave()
        self.outbox.stop()
        asyncio.get_running_loop().create_task(self._close_now(CLOSE_SLOW))

    async def _close_now(self, code: int) -> None:
        try:
            await asyncio.wait_for(
                self.outbox.send({"type": "websocket.close", "code": code}), timeout=5
            )
        except Exception:  # the transport is gone or wedged; the server reaps it
            logger.debug("live: close %s not sent", code, exc_info=True)

    async def disconnect(self, code):
        self._leave()
        self.outbox.stop()

    def _leave(self) -> None:
        if self.topic is not None:
            self.topic.hub.leave(self.topic, self)
            self.topic = None

    # --- the seam --------------------------------------------------------------------------

    async def go_live(self, tournament_id: int, since: int | None) -> bool:
        """Join the topic, send the log up to now, then live events. False if closed."""
        try:
            self.topic = await hub_get().join(tournament_id, self)
        except Exception:
            logger.exception("live: cannot subscribe to tournament %s", tournament_id)
            self.close_with(CLOSE_SERVER_ERROR)
            return False
        if self.closing:  # disconnected meanwhile
            self._leave()
            return False
        return await self.catch_up(since)

    async def catch_up(self, since: int | None) -> bool:
        """While buffering live events: send the log after ``since`` (or a snapshot when
        ``since`` is None or the log cannot answer), then the buffered events."""
        try:
            version, frames = await self.read_log(since)
        except NotFound:
            self.close_with(CLOSE_NOT_FOUND)
            return False
        except Exception:
            logger.exception("live: reading the log failed")
            self.close_with(CLOSE_SERVER_ERROR)
            return False
        if self.closing:
            return False
        for frame in frames:
            self.outbox.put(frame)
        self.last = version if self.last is None else max(self.last, version)
        if self.topic is not None:
            self.topic.baseline(version)  # may deliver into self.buffer
        buffered, self.buffer = self.buffer or [], None
        for event in buffered:
            self.deliver(event)
        return True

    async def read_log(self, since: int | None) -> tuple[int, list[str]]:
        raise NotImplementedError

    def wants(self, event: LiveEvent) -> bool:
        return True

    # Listener (called by the topic)
    def deliver(self, event: LiveEvent) -> None:
        if self.buffer is not None:
            if len(self.buffer) >= BUFFER_LIMIT:
                # Its read takes so long that this many events came meanwhile: drop them
                # rather than hold them; the client resumes with ?since= (as a slow one).
                self.buffer.clear()
                self.resync_required()
                return
            self.buffer.append(event)
        elif event.version <= self.last:
            pass  # already in what was read from the log
        elif event.version == self.last + 1:
            self.last = event.version
            if self.wants(event):
                self.outbox.put(event.frame)
        else:  # a gap: fetch it from the log, keeping what comes meanwhile
            self.buffer = [event]
            asyncio.get_running_loop().create_task(self.catch_up(self.last))

    def resync_required(self) -> None:
        self.close_with(CLOSE_SLOW)

    # --- client frames ---------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        now = asyncio.get_running_loop().time()
        if self.tokens_at is not None:  # else the bucket is full, as it was at the connect
            self.tokens = min(BURST, self.tokens + (now - self.tokens_at) * RATE)
        self.tokens_at = now
        if self.tokens < 1:
            self.close_with(CLOSE_FLOOD)
            return
        self.tokens -= 1
        try:
            if text_data is None:
                raise BadFrame("text_only", "Send JSON text frames.")
            if len(text_data) > MAX_FRAME_CHARS:
                raise BadFrame("frame_too_large", f"Frames are at most {MAX_FRAME_CHARS} chars.")
            try:
                frame = json.loads(text_data)
            except ValueError:
                raise BadFrame("malformed_json", "The frame is not valid JSON.") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("action"), str):
                raise BadFrame("invalid_frame", 'A frame is a JSON object with an "action".')
            await self.act(frame)
        except BadFrame as bad:
            self.strikes += 1
            self.error(bad.code, bad.detail)
            if self.strikes > BAD_FRAMES_ALLOWED:
                self.close_with(CLOSE_BAD_FRAMES)

    async def act(self, frame: dict) -> None:
        if frame["action"] == "auth":
            return  # anyone may watch: a token changes nothing here
        raise BadFrame("unknown_action", f"Unknown action {frame['action'][:40]!r}.")


class TournamentSocket(LiveSocket):
    """``/ws/tournaments/{id}/[?since=V]``: snapshot or replay, then every event.

    Anyone may watch, so this socket needs no user, session or cookies: it is a plain ASGI
    application (``serve``), not a Channels consumer behind the authentication stack. Per
    idle spectator that leaves this object, its outbox and one coroutine, where the
    consumer, its dispatch task and the middleware's scopes, coroutines and session took
    about 12 KiB more (``bench/memory.py``). Its frames and close codes are the same as
    through the stack; ``project.asgi`` checks the origin before it comes here.
    """

    __slots__ = ("tournament_id",)

    def __init__(self, tournament_id: int):
        self.tournament_id = tournament_id

    async def serve(self, scope, receive, send) -> None:
        """The socket's life, one ASGI message at a time, as a Channels consumer handles it
        (a frame that comes while the connect is still reading waits for it)."""
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                if message.get("text") is not None:
                    await self.receive(text_data=message["text"])
                else:
                    await self.receive(bytes_data=message["bytes"])
            elif kind == "websocket.connect":
                self.live_start(send)
                await send({"type": "websocket.accept", "subprotocol": None})
                await self.connect(scope.get("query_string", b""))
            elif kind == "websocket.disconnect":
                await self.disconnect(message.get("code"))
                return
            else:
                raise ValueError(f"No handler for message type {kind}")

    async def connect(self, query_string: bytes) -> None:
        raw = parse_qs(query_string.decode("latin-1")).get("since")
        since = None
        if raw is not None:
            if VERSION_PATTERN.fullmatch(raw[0]):
                since = int(raw[0])
            else:
                self.error("invalid_since", "since must be a version number; sent a snapshot.")
        await self.go_live(self.tournament_id, since)

    async def read_log(self, since):
        topic = self.topic
        if since is not None and topic is not None and since == topic.last:
            # The topic has released exactly up to ``since`` and hands this socket, a
            # listener already, everything after it: the log has nothing to add. Spectators
            # resuming together (a restarted page, a reconnect storm) then cost no query
            # each; measured with 10,000 (bench/memory.py), their queued reads were what
            # kept the process's memory high long after they were done.
            return since, []
        if since is not None:
            read = await db_call(
                selectors.tournament_events_after,
                tournament_id=self.tournament_id,
                since=since,
                limit=REPLAY_LIMIT,
            )
            if read is not None:
                version, events = read
                return version, [event.frame for event in events]
        # A snapshot the topic's live events continue without a gap: one at the version
        # the topic has released to (it delivers what comes after), or, before it has
        # released anything, one read since it subscribed. Shared by every socket of the
        # process that can use it (matches.snapshots).
        released = topic.last if topic is not None else None
        needs = {
            "at_least": released,
            "started_after": topic.epoch if topic is not None and released is None else None,
        }
        kept = selectors.tournament_snapshot_cached(tournament_id=self.tournament_id, **needs)
        if kept is not None:  # no thread hop: a storm's sockets after the first read
            return kept[0], [kept[1]]
        version, snapshot = await db_call(
            selectors.tournament_snapshot, snapshot=True, tournament_id=self.tournament_id, **needs
        )
        return version, [snapshot]


async def tournament_socket(scope, receive, send) -> None:
    """``TournamentSocket`` as a route of Channels' ``URLRouter`` (``consumers.routing``)."""
    tournament_id = scope["url_route"]["kwargs"]["tournament_id"]
    await TournamentSocket(tournament_id).serve(scope, receive, send)


class LiveConsumer(LiveSocket, AsyncWebsocketConsumer):
    """A live socket that needs Channels' consumer: the user from the authentication stack."""

    channel_layer_alias = "__no_layer_per_consumer__"  # get_channel_layer() -> None

    async def websocket_connect(self, message):
        self.live_start(self.base_send)
        await super().websocket_connect(message)


class MatchConsumer(LiveConsumer):
    """``/ws/matches/{id}/``: the sides and the organizer; ``match.*`` events of this match,
    and the ``report``/``resolve`` actions, answered like the REST endpoints."""

    ACTIONS = {"report": "match_report", "resolve": "match_resolve"}

    async def connect(self):
        await self.accept()
        self.match_id = self.scope["url_route"]["kwargs"]["match_id"]
        self.user = None
        self.snapshot_sent = False
        user = self.scope.get("user") or AnonymousUser()
        if user.is_authenticated:
            await self.authorize(user)
        else:
            self.auth_timer = asyncio.get_running_loop().call_later(
                AUTH_TIMEOUT, self.close_with, CLOSE_UNAUTHENTICATED
            )

    async def disconnect(self, code):
        timer = getattr(self, "auth_timer", None)
        if timer is not None:
            timer.cancel()
        await super().disconnect(code)

    async def authorize(self, user) -> None:
        try:
            tournament_id, allowed = await db_call(
                selectors.match_access, match_id=self.match_id, user=user
            )
        except NotFound:
            self.close_with(CLOSE_NOT_FOUND)
            return
        if not allowed:
            self.close_with(CLOSE_FORBIDDEN)
            return
        self.user = user
        await self.go_live(tournament_id, None)

    async def read_log(self, since):
        if since is not None:  # a gap: the missing events, filtered by ``wants``
            read = await db_call(
                selectors.tournament_events_after,
                tournament_id=self.topic.tournament_id if self.topic else 0,
                since=since,
            )
            if read is not None:
                version, events = read
                return version, [e.frame for e in events if self.wants(e)]
        version, snapshot = await db_call(selectors.match_snapshot, match_id=self.match_id)
        return version, [snapshot]

    def wants(self, event: LiveEvent) -> bool:
        return event.match_id == self.match_id and event.name.startswith("match.")

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None and not self.closing:
            await self.first_frame(text_data)
            return
        await super().receive(text_data=text_data, bytes_data=bytes_data)

    async def first_frame(self, text_data) -> None:
        """Unauthenticated: the first frame must be ``{"action": "auth", "token": ...}``."""
        self.auth_timer.cancel()
        try:
            frame = json.loads(text_data or "")
        except ValueError:
            frame = None
        token = frame.get("token") if isinstance(frame, dict) else None
        if frame is None or frame.get("action") != "auth" or not isinstance(token, str):
            self.close_with(CLOSE_UNAUTHENTICATED)
            return
        user = await db_call(selectors.token_user, key=token[:64])
        if user is None:
            self.close_with(CLOSE_UNAUTHENTICATED)
            return
        await self.authorize(user)

    async def act(self, frame: dict) -> None:
        action = frame["action"]
        if action == "auth":
            return  # already authenticated
        if action not in self.ACTIONS:
            raise BadFrame("unknown_action", f"Unknown action {action[:40]!r}.")
        request_id = frame.get("request_id")
        if request_id is not None and not (
            isinstance(request_id, str | int) and len(str(request_id)) <= 100
        ):
            raise BadFrame("invalid_request_id", "request_id is a string of up to 100 chars.")
        reply = {"type": "reply", "request_id": request_id}
        try:
            match = await db_call(self._act, service=self.ACTIONS[action], frame=frame)
        except Exception as error:
            body = _error_body(error)
            if body is None:
                logger.exception("live: %s on match %s failed", action, self.match_id)
                body = {"code": "server_error", "detail": "Internal error; it has been logged."}
            self.frame({**reply, "ok": False, **body})
            return
        self.frame({**reply, "ok": True, "match": match})

    def _act(self, *, service: str, frame: dict) -> dict:
        """The REST view's work (``matches.views``): validate, call the service, render."""
        from matches import services

        fields = ("winner", "scores", "games")
        data = ResultInput(data={k: v for k, v in frame.items() if k in fields})
        data.is_valid(raise_exception=True)
        match = getattr(services, service)(
            match_id=self.match_id,
            user=self.user,
            winner_id=data.validated_data["winner"],
            scores=data.validated_data.get("scores"),
            games=data.validated_data.get("games"),
        )
        return match_data(match)


def _error_body(error: Exception) -> dict | None:
    """The REST error body for a domain or validation error (project.errors maps both);
    None for anything else (a bug)."""
    return socket_error_body(error)
