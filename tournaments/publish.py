"""One publisher of channel-layer group messages per process: the live events of committed
changes leave the request without waiting for Redis, without an event loop of their own
and without a connection of their own.

Why. A change's events are published after its transaction commits, from the thread that
committed it: a request thread of gunicorn or daphne, or a Celery task. The layer's API is
asynchronous (``group_send`` is a coroutine), and channels-redis keeps its Redis
connections per event loop. Called with ``async_to_sync`` from a thread with no loop (every
WSGI request thread, every task), each publish made a thread, an event loop and a new
Redis connection, and closed all three (bench/joins.py under gunicorn: a sixth of a join's
Python time, more in the kernel); from daphne's request threads it was a hop to the server's
loop and a wait for the round trip to Redis.

Design. ``LayerPublisher`` owns ONE thread running ONE event loop for the life of the
process. ``publish()`` appends the message to a queue and, if the loop is idle, wakes it;
it never waits for Redis and never raises. The loop takes everything queued at once and
sends it with the layer's public ``group_send``, on connections that belong to that one
loop and so live as long as it does (at most ``CONCURRENT_GROUPS`` of them: one per send
in flight). What this keeps:

* **Order per group.** A group's messages are sent one after the other in the order
  ``publish()`` was called; a batch's different groups are sent concurrently, and the next
  batch starts only when the last one is done. (The order in which concurrent commits
  call ``publish()`` is theirs: the hubs read a version gap back from the event log.)
* **The request never pays for a failure.** The change has committed: a failed or timed
  out send (Redis away) is logged and dropped, and live clients recover the events from
  the log (the hubs' sweep, or ``since``). Past ``capacity`` queued messages (Redis away
  for a long time) new ones are dropped and logged rather than held in memory.
* **Fork and exit.** The thread is started on the first publish in a process, so a
  process forked before it (gunicorn's and Celery's workers) starts its own; at interpreter
  exit, and when a Celery pool process ends, what is queued is sent first (``close``, at
  most ``EXIT_TIMEOUT`` seconds).

Not through the thread: a layer that lives in the process (Channels' in-memory layer, the
embedded default's). Its queues belong to the loop of the server that reads them, and it
has no connection to keep: it is sent to as before, with ``async_to_sync`` (from a request
thread of the one ASGI server, a hop to that server's loop).

A synchronous Redis publish in the layer's own wire format would save the thread too, but
channels-redis documents no such format (its message layout is an internal of the
library), so the publisher keeps to the layer's public API on one long-lived loop.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections import deque

from asgiref.sync import async_to_sync
from celery.signals import worker_process_shutdown
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

# What one send to Redis may take before it is given up (and logged).
SEND_TIMEOUT = 5.0
# At interpreter exit, how long to wait for what is queued to be sent.
EXIT_TIMEOUT = 2.0
# Messages queued at most; beyond, new ones are dropped (the event log has them).
CAPACITY = 10_000
# Groups sent to at once: each send in flight holds one of the loop's Redis connections,
# so this bounds them too (channels-redis's pools have no limit of their own).
CONCURRENT_GROUPS = 8


class LayerPublisher:
    """Sends ``group_send`` messages of any thread from one long-lived event loop thread.

    Invariants: messages to one group are sent in ``publish()`` order; ``publish()`` never
    blocks on the layer and never raises; at most ``capacity`` messages wait; at most
    ``concurrency`` groups are sent to at once (and so at most that many connections).
    """

    def __init__(
        self,
        *,
        capacity: int = CAPACITY,
        send_timeout: float = SEND_TIMEOUT,
        concurrency: int = CONCURRENT_GROUPS,
    ) -> None:
        self.capacity = capacity
        self.send_timeout = send_timeout
        self.concurrency = concurrency
        self._reset()
        # A forked child has the parent's objects but not its thread: it starts afresh
        # (what the parent had queued is the parent's to send).
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._queue: deque[tuple[str, dict]] = deque()
        self._queued_total = 0  # messages ever accepted into the queue
        self._finished_total = 0  # of those, sent, failed or timed out
        self._awake = False  # the loop has been woken and has not yet found the queue empty
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._sending: asyncio.Semaphore | None = None  # made on the loop, by _drain
        self._thread: threading.Thread | None = None
        self._closed = False
        self._dropped = 0

    # --- What callers use ---------------------------------------------------------------

    def publish(self, group: str, message: dict) -> None:
        """Send ``message`` to ``group`` soon, from the publisher's loop; returns at once."""
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            self._publish_in_process(layer, group, message)
            return
        with self._lock:
            if self._closed:
                logger.error("live publisher closed: message to %s dropped", group)
                return
            if len(self._queue) >= self.capacity:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    logger.error(
                        "live publisher: %d messages waiting, %d dropped so far (latest to "
                        "%s); clients recover them from the event log",
                        len(self._queue),
                        self._dropped,
                        group,
                    )
                return
            if self._thread is None:
                self._start()
            self._queue.append((group, message))
            self._queued_total += 1
            wake = not self._awake
            self._awake = True
        if wake:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message published before the call has been sent (or has failed);
        False if ``timeout`` seconds passed first."""
        with self._lock:
            target = self._queued_total
            return self._done.wait_for(lambda: self._finished_total >= target, timeout)

    def close(self, timeout: float = EXIT_TIMEOUT) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the thread.
        Later publishes are dropped and logged."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    # --- The loop's side ----------------------------------------------------------------

    def _start(self) -> None:
        """Start the loop thread (with the lock held)."""
        self._loop = asyncio.new_event_loop()
        self._wakeup = asyncio.Event()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="live-publisher", daemon=True
        )
        self._thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        task = self._loop.create_task(self._drain())
        self._loop.call_soon(ready.set)
        try:
            self._loop.run_forever()
        finally:
            task.cancel()
            # Closing the loop closes the layer's connections of this loop (channels-redis
            # does so when a loop it used is closed).
            self._loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            self._loop.close()

    async def _drain(self) -> None:
        self._sending = asyncio.Semaphore(self.concurrency)
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while True:
                with self._lock:
                    batch = list(self._queue)
                    self._queue.clear()
                    if not batch:
                        self._awake = False
                        break
                try:
                    await self._send_batch(batch)
                finally:
                    with self._lock:
                        self._finished_total += len(batch)
                        self._done.notify_all()

    async def _send_batch(self, batch: list[tuple[str, dict]]) -> None:
        by_group: dict[str, list[dict]] = {}
        for group, message in batch:
            by_group.setdefault(group, []).append(message)
        layer = get_channel_layer()
        await asyncio.gather(
            *(self._send_in_order(layer, group, messages) for group, messages in by_group.items())
        )

    async def _send_in_order(self, layer, group: str, messages: list[dict]) -> None:
        async with self._sending:
            await self._send_each(layer, group, messages)

    async def _send_each(self, layer, group: str, messages: list[dict]) -> None:
        for message in messages:
            try:
                async with asyncio.timeout(self.send_timeout):
                    await layer.group_send(group, message)
            except Exception as error:  # logged, never raised: the change has committed
                logger.error(
                    "live publish to %s failed (%s: %s); clients recover it from the event log",
                    group,
                    type(error).__name__,
                    error,
                )

    @staticmethod
    def _publish_in_process(layer, group: str, message: dict) -> None:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception as error:  # the same promise as the thread's: logged, not raised
            logger.error("live publish to %s failed (%s: %s)", group, type(error).__name__, error)


publisher = LayerPublisher()
atexit.register(publisher.close)
# A Celery pool process ends with os._exit (billiard's), which runs no atexit handler; it
# sends worker_process_shutdown first.
worker_process_shutdown.connect(lambda **kwargs: publisher.close(), weak=False)
