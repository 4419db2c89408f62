"""How live frames reach one socket: the server-specific writing behind one small interface.

The hub (``consumers.hub``) hands every socket's frames to its ``Outbox``, which asks the
socket's ``Transport`` to write each text frame and sends it through the server's ASGI
``send`` when the transport declines. A transport is chosen per socket by ``transport_for``
from the server's ``send``:

* ``daphne.DaphneTransport``: frames written to the Twisted connection, built once per
  event, and Twisted's flow control (``paused``), which daphne's ``send`` lacks;
* ``uvicorn.UvicornTransport``: frames written to uvicorn's asyncio transport;
* ``asgi.ASGI``: the portable fallback, any other server (and Channels' test
  communicators): writes nothing itself, so every frame goes through ``send``.

Each server module is the one place that knows its server's internals; the pinned ranges of
those servers in pyproject.toml are the ones the tests ran on. ``LIVE_DIRECT_WRITES`` off
(``settings.LIVE_DIRECT_WRITES``) sends every frame through ASGI, daphne's flow control
kept: a switch for measuring, or for a server whose internals changed.

The frame a transport writes is the one the server would have sent for the same text (an
unmasked text frame, ``frames.text_frame``), and frames reach the client in the order the
outbox hands them over, whichever way each one went.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from django.conf import settings

from consumers.transports import asgi, daphne, uvicorn


class Transport(Protocol):
    """What the outbox needs of a server's connection, besides its ASGI ``send``."""

    name: str  # "daphne", "uvicorn", "asgi": which server module serves the socket
    # True while the server's buffer for the connection is full: the outbox holds frames
    # back (and does not call ``write`` or ``send``) until ``resumed()`` returns.
    paused: bool

    def write(self, text: str) -> bool:
        """Write a text frame past ASGI, now; False: not written, send it through ASGI.
        Called only while the outbox has nothing queued before ``text``."""
        ...

    async def resumed(self) -> None:
        """Return once the connection is no longer ``paused``."""
        ...

    def release(self) -> None:
        """The socket is done with: undo what the transport registered with the server."""
        ...

    def buffered(self) -> int | None:
        """Bytes the server holds for the connection and the kernel has not taken yet
        (None: the server does not say). For diagnostics and tests."""
        ...


def transport_for(send: Callable) -> Transport:
    """The transport for a socket whose server ``send`` (``asgi.server_send``) this is."""
    transport = daphne.transport_for(send, direct=settings.LIVE_DIRECT_WRITES)
    if transport is None and settings.LIVE_DIRECT_WRITES:
        transport = uvicorn.transport_for(send)
    return asgi.ASGI if transport is None else transport
