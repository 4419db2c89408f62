"""daphne: frames written straight to the Twisted connection, and Twisted's flow control.

Everything this project knows of daphne's, autobahn's and Twisted's internals is here.

Writing. Under daphne a frame sent through ASGI goes ``Server.handle_reply`` -> the
protocol's ``handle_reply`` -> ``serverSend`` (UTF-8 encoding) -> autobahn's
``sendMessage``/``sendFrame`` (framing, per socket) -> ``sendData`` -> Twisted's ``write``,
which never writes at once: it buffers, adds the socket to the reactor's writers (an
``epoll_ctl``) and writes on the next loop turn, then removes it again (another
``epoll_ctl``). Measured at 1,000 spectators and 20 events/s, that was most of the
process's time. ``write`` instead takes the frame built once per event
(``consumers.transports.frames``) and, when Twisted holds nothing for the connection,
writes it to the socket at once with Twisted's own ``writeSomeData``; what the kernel does
not take, and everything while Twisted still buffers, goes through Twisted's ``write``
(order kept, and the producer sees the buffer fill). Anything unusual (a compressed or TLS
connection, autobahn's own send queue, a socket not open) declines, and the frame takes
the ASGI path.

Flow control. daphne's ``send`` never waits: Twisted buffers without limit, so a client
that does not read would grow the server's memory. Once the handshake is done the
transport registers itself as the connection's push producer, in place of the HTTP
channel's that daphne leaves there (which, paused, only stops reading the socket: nothing
would ever hold the frames back); Twisted pauses it when the connection's write buffer is
full and resumes it when the buffer has drained, and the outbox holds frames back while it
is ``paused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

from consumers.transports.frames import text_frame

logger = logging.getLogger(__name__)


class DaphneTransport:
    """One daphne WebSocket connection (an autobahn protocol on a Twisted transport).

    Made before the handshake, when the protocol's transport is still the HTTP channel's;
    it attaches to the connection at the first ``write`` after the socket is open (until
    then ``write`` declines: the accept and anything before it go through ASGI). Attaching
    registers the flow control, and enables direct writes when they were asked for and the
    connection is one ``write`` knows (plain TCP, uncompressed).
    """

    __slots__ = ("protocol", "direct", "attached", "paused", "waiter")
    name = "daphne"

    def __init__(self, protocol, *, direct: bool) -> None:
        self.protocol = protocol
        self.direct = direct  # a wish until attached, then whether ``write`` writes
        self.attached = False
        self.paused = False
        self.waiter: asyncio.Future | None = None

    def write(self, text: str) -> bool:
        """Write ``text`` as a frame to the connection; False: send it through ASGI."""
        if not self.attached and not self._attach():
            return False
        if not self.direct:
            return False
        protocol = self.protocol
        if (
            protocol.state != protocol.STATE_OPEN
            or protocol._perMessageCompress is not None
            or protocol.send_queue
        ):
            return False
        transport = protocol.transport
        if transport is None or transport.TLS or not transport.connected or transport.disconnecting:
            return False
        data = text_frame(text)
        if not transport.dataBuffer and not transport._tempDataBuffer:
            written = transport.writeSomeData(data)
            if type(written) is int and written >= 0:  # else an error: Twisted's write reports it
                if written == len(data):
                    return True
                data = data[written:]
        transport.write(data)
        return True

    def _attach(self) -> bool:
        """Attach once the socket is open; False while it is not (then: ASGI)."""
        protocol = self.protocol
        if getattr(protocol, "state", None) != getattr(protocol, "STATE_OPEN", 3):
            return False  # not accepted yet (or already closing)
        self.attached = True
        if not self._register():
            self.direct = False  # without flow control, nothing past ASGI
        elif self.direct:
            self.direct = _direct_capable(protocol)
        return True

    def _register(self) -> bool:
        """Become the connection's push producer; False: the connection goes without."""
        transport = getattr(self.protocol, "transport", None)
        if transport is None or not hasattr(transport, "registerProducer"):
            return False
        try:
            from twisted.web.http import HTTPChannel

            if isinstance(transport.producer, HTTPChannel):
                transport.unregisterProducer()
            transport.registerProducer(self, True)  # raises if another producer is there
        except Exception:
            logger.warning("live: no flow control on %r", self.protocol, exc_info=True)
            return False
        return True

    # IPushProducer (called by Twisted, on the same thread and loop as the application)
    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's interface
        self.paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def stopProducing(self) -> None:  # noqa: N802
        self.resumeProducing()

    async def resumed(self) -> None:
        """Until Twisted resumes the producer (the buffer drained, or the connection is
        gone: ``stopProducing``)."""
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter

    def release(self) -> None:
        """The socket is done: stop being the connection's producer."""
        with contextlib.suppress(Exception):
            transport = self.protocol.transport
            if transport is not None and transport.producer is self:
                transport.unregisterProducer()

    def buffered(self) -> int | None:
        """Bytes Twisted holds for the connection, not yet taken by the kernel."""
        transport = getattr(self.protocol, "transport", None)
        try:
            return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        except (AttributeError, TypeError):  # no connection (any more), or not Twisted's
            return None


def transport_for(send: Callable, *, direct: bool) -> DaphneTransport | None:
    """daphne's ``send`` is ``partial(Server.handle_reply, protocol)`` and its protocol an
    autobahn WebSocket protocol on a Twisted transport; None for any other ``send``."""
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    if protocol is None or not hasattr(protocol, "registerProducer"):
        return None
    return DaphneTransport(protocol, direct=direct)


def _direct_capable(protocol) -> bool:
    """Whether ``write`` knows this connection: plain TCP under autobahn, with the
    attributes it reads where it expects them."""
    transport = getattr(protocol, "transport", None)
    try:
        return (
            transport.TLS is False
            and isinstance(transport.dataBuffer, bytes)
            and isinstance(transport._tempDataBuffer, list)
            and callable(transport.writeSomeData)
            and isinstance(protocol.STATE_OPEN, int)
            and hasattr(protocol, "_perMessageCompress")
            and hasattr(protocol, "send_queue")
        )
    except AttributeError:
        return False
