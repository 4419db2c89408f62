"""The portable transport: every frame through the server's ASGI ``send``.

Used under any server the other modules do not know (and in tests, under Channels'
communicators), and under uvicorn when ``LIVE_DIRECT_WRITES`` is off. It needs nothing from
the server beyond ASGI: the server applies its own flow control inside ``send`` (uvicorn
waits there while its transport is paused) or none at all.

Also here, because every transport falls back to it: how a frame is sent through ``send``
without a task per frame (``send_begin``), and the server's own ``send`` from under
Channels' session wrapper (``server_send``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class AsgiTransport:
    """Writes nothing itself: ``write`` declines, so the outbox sends every frame through
    ``send``. It holds no state, so one instance serves every socket (``ASGI``)."""

    __slots__ = ()
    name = "asgi"
    paused = False  # the server's send waits by itself when it must

    def write(self, text: str) -> bool:
        return False

    async def resumed(self) -> None:
        return None  # never paused

    def release(self) -> None:
        return None

    def buffered(self) -> int | None:
        return None  # unknown: the server does not say


ASGI = AsgiTransport()


def server_send(send: Callable) -> Callable:
    """The server's own ``send`` from under Channels' session wrapper, whose per-message
    work (session saves, cookies) is for HTTP responses and the handshake only; the
    transports recognise their server by this ``send``."""
    from channels.sessions import InstanceSessionWrapper

    while isinstance(getattr(send, "__self__", None), InstanceSessionWrapper):
        send = send.__self__.real_send
    return send


def send_begin(send: Callable, message: dict) -> Awaitable | None:
    """Start ``send(message)`` and run it as far as it goes without waiting.

    Returns None when it finished in that one step (daphne's ``send`` always does,
    uvicorn's while its transport is writable), else an awaitable that finishes it: only a
    ``send`` that has to wait then costs a task. Raises what ``send`` raises in that step
    (uvicorn's when the client is gone).
    """
    coro = send(message)
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _finish(coro, waiting_on)


async def _finish(coro, waiting_on) -> None:
    """Run to its end a coroutine that was stepped by hand and suspended on ``waiting_on``
    (what it yielded: a future, or None for a bare yield)."""
    while True:
        if waiting_on is None:
            await asyncio.sleep(0)
        else:
            # What asyncio's Task does with a yielded future before it waits on it.
            waiting_on._asyncio_future_blocking = False
            await waiting_on
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
