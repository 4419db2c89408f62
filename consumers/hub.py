"""Per-process fan-out of live events: one channel-layer delivery per process, not per socket.

The plain Channels design (a group per tournament, every consumer a member) costs a layer
message, a Redis round trip and a JSON encoding per spectator per event; measured here it
tops out near 2,000 deliveries/s (NOTES.md). Instead each server process runs one ``Hub``
per event loop with ONE channel-layer channel. The first local listener of a tournament
makes the hub join the tournament's group; the last one leaving makes it leave (after a
short linger, so a reconnecting page does not churn Redis). The hub receives each
committed change once, as frames already encoded by the publisher
(``tournaments.events``), and hands the same strings to every local listener.

Ordering and loss. The layer delivers at most once and, for concurrent changes of one
tournament, not necessarily in version order. A ``Topic`` therefore releases events to its
listeners strictly in version order with no gaps: an early event waits in ``pending``;
if the missing one has not arrived after ``GAP_GRACE`` seconds, the topic reads it from
the log (one query per process, not per spectator). A lost *last* event has no successor
to reveal the gap, so a sweep reads the current versions of every watched tournament,
one query per process every ``SWEEP_INTERVAL`` seconds, and repairs the topics behind.
The group membership in Redis expires (channels-redis ``group_expiry``, a day by default),
so the hub renews it on the same beat; and it can vanish at once (Redis restarted without
persistence, or its database flushed): then no message arrives at all and only the sweep
sees the log move on. So a topic the sweep finds behind with no message on the way
(``GAP_GRACE`` later), and every topic after the layer's ``receive`` failed, has its
membership renewed at once: it is live again within one sweep interval, instead of being
repaired by sweeps alone until the next renewal.

Per-socket sending (``Outbox``). Every socket has a queue of frames and a task that
writes them, through the socket's transport (``consumers.transports``: what a server needs
beyond ASGI, one module per server). A socket whose client does not read stops draining:
the server's ``send`` waits (uvicorn), or the transport says the server's buffer is full
(``paused``: daphne, whose ``send`` never waits) and the outbox holds frames back. Either
way the backlog stays in the outbox, as references to the shared frames, and a socket
that makes no progress for ``STALL_SECONDS`` with frames waiting, or falls
``BACKLOG_LIMIT`` frames behind, is closed with ``CLOSE_SLOW`` (4408): the client
reconnects with ``?since=`` and gets what it missed from the log. Server memory per slow
client stays bounded.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from channels.db import DatabaseSyncToAsync
from channels.layers import get_channel_layer
from django.db import close_old_connections

from consumers.transports import Transport, transport_for
from consumers.transports.asgi import send_begin, server_send
from tournaments.events import LIVE_MESSAGE_TYPE, LiveEvent, tournament_group

logger = logging.getLogger(__name__)

GAP_GRACE = 0.05  # s an out-of-order event waits for the one before it, then the log is read
SWEEP_INTERVAL = 5.0  # s between checks that no watched tournament is ahead of its topic
GROUP_RENEW_INTERVAL = 3600.0  # s; far below channels-redis's group_expiry (1 day)
LINGER = 10.0  # s a topic stays subscribed after its last listener left
STALL_SECONDS = 10.0  # s a socket may make no progress while frames wait
BACKLOG_LIMIT = 4096  # frames a socket may fall behind, whatever the time
CLOSE_SLOW = 4408  # "you fell behind: reconnect with ?since=<last version you processed>"

# Reads of the live sockets and hubs get their own threads: Channels' default
# (thread_sensitive) runs every ORM call of the process on one thread, where a burst of
# snapshot reads would queue behind each other and behind every HTTP view.
DB_THREADS = 4
_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="live-db")
# Tournament snapshots (matches.snapshots) have threads of their own, so at most this many
# are read at once: a storm of connects to many tournaments queues there, while replays,
# gap repairs and match-socket actions keep the threads above.
SNAPSHOT_THREADS = 2
_snapshot_executor = ThreadPoolExecutor(
    max_workers=SNAPSHOT_THREADS, thread_name_prefix="live-snapshot"
)


def db_call(func: Callable, /, *, snapshot: bool = False, **kwargs):
    """Run a sync ORM function on the live executor (``snapshot=True``: the snapshot
    executor); returns an awaitable."""
    return DatabaseSyncToAsync(
        functools.partial(_closing, func, kwargs),
        thread_sensitive=False,
        executor=_snapshot_executor if snapshot else _executor,
    )()


def _closing(func: Callable, kwargs: dict):
    # Release the connection (to the pool, or closed with CONN_MAX_AGE=0) from inside the
    # call: the connection lives in the context the call ran in, which is not always the
    # one DatabaseSyncToAsync cleans up afterwards.
    try:
        return func(**kwargs)
    finally:
        close_old_connections()


class Listener(Protocol):
    def deliver(self, event: LiveEvent) -> None: ...

    def resync_required(self) -> None: ...


# --- Topics and the hub ---------------------------------------------------------------------


class Topic:
    """The live stream of one tournament inside one process."""

    def __init__(self, hub: Hub, tournament_id: int):
        self.hub = hub
        self.tournament_id = tournament_id
        self.group = tournament_group(tournament_id)
        self.listeners: set[Listener] = set()
        # The last version released to listeners; None until a listener has read the log
        # (``baseline``): before that the topic cannot tell a gap from a start.
        self.last: int | None = None
        self.pending: dict[int, LiveEvent] = {}
        self.subscribed: asyncio.Future = asyncio.get_running_loop().create_future()
        # time.monotonic() when the topic last began to receive every event (subscribed,
        # or started over): a snapshot read since then misses nothing the topic lacks.
        self.epoch = float("inf")
        self.repairing: asyncio.Task | None = None
        self.linger: asyncio.TimerHandle | None = None
        self.heard = 0  # layer messages received (the sweep compares it with its last look)
        self.heard_at_sweep = 0

    def baseline(self, version: int) -> None:
        """A listener read the log up to ``version``; releases what came in meanwhile."""
        if self.last is None:
            self.last = version
            self._release()

    def receive(self, events: list[LiveEvent]) -> None:
        for event in events:
            if self.last is None or event.version > self.last:
                self.pending[event.version] = event
        self._release()

    def behind(self, version: int) -> None:
        """The log has ``version``: make sure the topic gets there (sweep)."""
        silent, self.heard_at_sweep = self.heard == self.heard_at_sweep, self.heard
        if self.last is not None and version > self.last:
            # Its message may be on the way: give it the grace a gap gets.
            self._repair_soon(target=version, delay=GAP_GRACE, silent=silent)

    def _release(self) -> None:
        if self.last is None:
            return
        for version in [v for v in self.pending if v <= self.last]:
            del self.pending[version]
        while self.last + 1 in self.pending:
            event = self.pending.pop(self.last + 1)
            self.last = event.version
            for listener in tuple(self.listeners):
                try:
                    listener.deliver(event)
                except Exception:  # one broken socket must not starve the others
                    logger.exception("live listener failed on %s@%s", self.group, event.version)
        if self.pending:
            self._repair_soon(target=max(self.pending), delay=GAP_GRACE)

    def _repair_soon(self, *, target: int, delay: float, silent: bool = False) -> None:
        if self.repairing is None or self.repairing.done():
            self.repairing = asyncio.get_running_loop().create_task(
                self._repair(target, delay, silent)
            )

    async def _repair(self, target: int, delay: float, silent: bool = False) -> None:
        from consumers.selectors import tournament_events_after

        await asyncio.sleep(delay)
        if silent and self.last is not None and self.last < target and not self.pending:
            # The log moved on while no message at all came since the last sweep: the last
            # messages were lost, or the membership itself (a flushed or restarted Redis),
            # after which nothing arrives any more: renew it. (A hub that is merely behind
            # still hears messages, and is repaired without this.)
            logger.warning(
                "live: %s is behind the log (%s < %s) with nothing received; resubscribing",
                self.group,
                self.last,
                target,
            )
            self.hub.loop.create_task(self.hub._renew([self]))
        backoff = 0.5
        while self.last is not None and self.last < max([target, *self.pending]):
            if self.hub.topics.get(self.tournament_id) is not self:
                return
            target = max([target, *self.pending])
            try:
                read = await db_call(
                    tournament_events_after,
                    tournament_id=self.tournament_id,
                    since=self.last,
                    upto=target,
                )
            except Exception:
                logger.exception("live: reading the log of %s failed; retrying", self.group)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            if read is None:
                # The events are gone from the log (pruned): listeners must start over.
                logger.warning(
                    "live: %s lost events after %s that the log no longer has",
                    self.group,
                    self.last,
                )
                for listener in tuple(self.listeners):
                    listener.resync_required()
                self.pending.clear()
                self.last = None
                self.epoch = time.monotonic()
                return
            _, events = read
            self.repairing = None  # let _release schedule a new repair for a new gap
            self.receive(events)
            return


class Hub:
    """One per event loop (server process): a channel-layer channel and its topics."""

    def __init__(self, layer):
        self.layer = layer
        self.loop = asyncio.get_running_loop()
        self.channel: str | None = None
        self.topics: dict[int, Topic] = {}
        self.tasks: list[asyncio.Task] = []
        self.stopping: list[asyncio.Task] = []

    async def join(self, tournament_id: int, listener: Listener) -> Topic:
        """Add a listener; returns once the process receives the tournament's events."""
        topic = self.topics.get(tournament_id)
        if topic is None:
            topic = self.topics[tournament_id] = Topic(self, tournament_id)
            self.loop.create_task(self._subscribe(topic))
        if topic.linger is not None:
            topic.linger.cancel()
            topic.linger = None
        topic.listeners.add(listener)
        try:
            await asyncio.shield(topic.subscribed)
        except BaseException:
            self.leave(topic, listener)
            raise
        return topic

    def leave(self, topic: Topic, listener: Listener) -> None:
        topic.listeners.discard(listener)
        if topic.listeners or self.topics.get(topic.tournament_id) is not topic:
            return
        if topic.linger is None:
            if LINGER > 0:
                topic.linger = self.loop.call_later(LINGER, self._drop, topic)
            else:
                self._drop(topic)

    def _drop(self, topic: Topic) -> None:
        topic.linger = None
        if topic.listeners or self.topics.get(topic.tournament_id) is not topic:
            return
        del self.topics[topic.tournament_id]
        if topic.repairing is not None:
            topic.repairing.cancel()
        self.loop.create_task(self._unsubscribe(topic))

    async def _subscribe(self, topic: Topic) -> None:
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="live-hub")
            if not self.tasks:
                self.tasks = [
                    self.loop.create_task(self._read()),
                    self.loop.create_task(self._sweep()),
                ]
            await self.layer.group_add(topic.group, self.channel)
        except BaseException as error:
            if self.topics.get(topic.tournament_id) is topic:
                del self.topics[topic.tournament_id]
            topic.subscribed.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        topic.epoch = time.monotonic()
        topic.subscribed.set_result(None)

    async def _unsubscribe(self, topic: Topic) -> None:
        with contextlib.suppress(Exception):
            await self.layer.group_discard(topic.group, self.channel)
        if not self.topics:
            self.stop()

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.stopping = [t for t in self.stopping if not t.done()] + self.tasks
        self.tasks = []

    async def aclose(self) -> None:
        """Stop and wait until stopped (tests: before their event loop closes)."""
        for topic in list(self.topics.values()):
            topic.listeners.clear()
            self._drop(topic)
        await asyncio.sleep(0)
        self.stop()
        await asyncio.gather(*self.stopping, return_exceptions=True)

    async def _read(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: whatever was published meanwhile is lost to this
                # process. Sweep as soon as it is back.
                logger.exception("live hub: channel layer receive failed; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
                self.loop.create_task(self._recover())
                continue
            backoff = 0.1
            if message.get("type") != LIVE_MESSAGE_TYPE:
                continue
            topic = self.topics.get(message.get("tournament"))
            if topic is not None:
                topic.heard += 1
                topic.receive([LiveEvent(*event) for event in message["events"]])

    async def _sweep(self) -> None:
        since_renewal = 0.0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            await self._sweep_once()
            since_renewal += SWEEP_INTERVAL
            if since_renewal >= GROUP_RENEW_INTERVAL:
                since_renewal = 0.0
                await self._renew(list(self.topics.values()))

    async def _renew(self, topics: list[Topic]) -> None:
        """(Re-)add the hub's channel to the topics' groups: idempotent, one ZADD each."""
        for topic in topics:
            if self.topics.get(topic.tournament_id) is topic:
                with contextlib.suppress(Exception):
                    await self.layer.group_add(topic.group, self.channel)

    async def _recover(self) -> None:
        """After the layer failed: Redis may have lost the groups (a restart without
        persistence) and whatever was published meanwhile."""
        await self._renew(list(self.topics.values()))
        await self._sweep_once()

    async def _sweep_once(self) -> None:
        from consumers.selectors import tournament_versions

        ids = [tid for tid, topic in self.topics.items() if topic.last is not None]
        if not ids:
            return
        try:
            versions = await db_call(tournament_versions, tournament_ids=ids)
        except Exception:
            logger.exception("live hub: sweep failed")
            return
        for tid, version in versions.items():
            topic = self.topics.get(tid)
            if topic is not None:
                topic.behind(version)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub_get() -> Hub:
    """This event loop's hub (a server process has one loop; tests have one per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(get_channel_layer())
    return hub


# --- Sending to one socket ------------------------------------------------------------------


class Outbox:
    """The frames waiting for one socket, written in order.

    Items are text frames, or an int: a close code, sent after the frames before it. The
    common case costs less than a raw broadcast: with nothing queued, ``put`` hands the
    frame to the socket's transport (``consumers.transports``), which writes it to the
    connection at once, built once per event, under the servers it knows; otherwise it
    starts the server's ``send`` and lets it run as far as it goes without waiting, which
    is to the end under daphne, and under uvicorn while its transport is writable. Only a
    ``send`` that has to wait, a paused connection, or a backlog, gets a task, which
    drains the queue and then ends.
    """

    # One per socket, so slots, and no deque until a frame has to wait: an idle spectator's
    # outbox is a few references (bench/memory.py).
    __slots__ = ("send", "on_slow", "loop", "items", "writer", "progress_at", "transport", "closed")

    def __init__(self, send: Callable, *, on_slow: Callable[[], None]):
        self.send = server_send(send)
        self.on_slow = on_slow
        self.loop = asyncio.get_running_loop()
        # Frames waiting behind a send that has to wait; None while none ever had to.
        self.items: collections.deque[str | int] | None = None
        self.writer: asyncio.Task | None = None
        self.progress_at = self.loop.time()
        self.transport: Transport = transport_for(self.send)
        self.closed = False

    def put(self, item: str | int) -> None:
        if self.closed:
            return
        if isinstance(item, int):
            self.closed = True
        transport = self.transport
        if self.writer is None and not self.items and not transport.paused:
            if type(item) is str and transport.write(item):
                self.progress_at = self.loop.time()
                return
            self._step(item)
            return
        if self.items:
            stalled = self.loop.time() - self.progress_at > STALL_SECONDS
            if stalled or len(self.items) >= BACKLOG_LIMIT:
                self.closed = True
                self.items = None
                self.on_slow()
                return
        else:
            self.progress_at = self.loop.time()
            if self.items is None:
                self.items = collections.deque()
        self.items.append(item)
        if self.writer is None:
            self.writer = self.loop.create_task(self._drain(None))

    def stop(self) -> None:
        self.closed = True
        self.items = None
        if self.writer is not None:
            self.writer.cancel()
        self.transport.release()

    @staticmethod
    def _message(item: str | int) -> dict:
        if isinstance(item, int):
            return {"type": "websocket.close", "code": item}
        return {"type": "websocket.send", "text": item}

    def _step(self, item: str | int) -> None:
        try:
            rest = send_begin(self.send, self._message(item))
        except Exception:  # the client is gone (uvicorn raises); the disconnect follows
            self.closed = True
            return
        self.progress_at = self.loop.time()
        if rest is not None:
            self.writer = self.loop.create_task(self._drain(rest))

    async def _drain(self, rest: Awaitable | None) -> None:
        try:
            if rest is not None:
                await rest
                self.progress_at = self.loop.time()
            transport = self.transport
            while self.items:
                if transport.paused:
                    await transport.resumed()
                    continue
                item = self.items.popleft()
                if not (type(item) is str and transport.write(item)):
                    await self.send(self._message(item))
                self.progress_at = self.loop.time()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.debug("live: send failed", exc_info=True)
            self.closed = True
            self.items = None
        finally:
            self.writer = None
            if not self.items:
                self.items = None  # drained: the socket holds no deque while idle
