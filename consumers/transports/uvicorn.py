"""uvicorn: frames written straight to its asyncio transport.

Everything this project knows of uvicorn's and websockets' internals is here.

uvicorn's ``send`` frames each message per socket (websockets' ``Frame.serialize``, in
Python) before its asyncio transport writes it. The asyncio transport writes at once and
applies flow control: uvicorn's ``send`` waits while it is paused, so there is nothing to
hold back here (``paused`` is always False). ``write`` hands the transport the frame built
once per event (``consumers.transports.frames``) while the connection is open, writable,
uncompressed and not inside a fragmented message, and otherwise declines, leaving the frame
to ``send`` (which waits while paused). Only uvicorn's protocol on websockets' sans-I/O
implementation is known (``--ws websockets-sansio``, which the pinned uvicorn's ``--ws auto``
picks when websockets is installed); under its other protocols the socket gets the ASGI
transport.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.transports.frames import text_frame

SANSIO_PROTOCOL_MODULE = "uvicorn.protocols.websockets.websockets_sansio_impl"

_websockets_open = None  # websockets.protocol.State.OPEN, once a uvicorn socket was seen


class UvicornTransport:
    """One uvicorn WebSocket connection on websockets' sans-I/O protocol."""

    __slots__ = ("protocol",)
    name = "uvicorn"
    paused = False  # uvicorn's send waits on the transport's flow control itself

    def __init__(self, protocol) -> None:
        self.protocol = protocol

    def write(self, text: str) -> bool:
        """Write ``text`` as a frame to the connection; False: send it through ASGI."""
        protocol = self.protocol
        conn = protocol.conn
        if (
            conn.state is not _websockets_open
            or conn.extensions
            or conn.expect_continuation_frame
            or protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or not protocol.writable.is_set()
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(text_frame(text))
        return True

    async def resumed(self) -> None:
        return None  # never paused

    def release(self) -> None:
        return None  # nothing registered with the server

    def buffered(self) -> int | None:
        """Bytes the asyncio transport holds for the connection."""
        transport = getattr(self.protocol, "transport", None)
        return None if transport is None else transport.get_write_buffer_size()


def transport_for(send: Callable) -> UvicornTransport | None:
    """uvicorn's ``send`` is a method of its protocol; None for any other ``send``, or a
    uvicorn protocol ``write`` does not know."""
    global _websockets_open
    protocol = getattr(send, "__self__", None)
    if type(protocol).__module__ != SANSIO_PROTOCOL_MODULE:
        return None
    try:
        from websockets.protocol import State

        protocol.conn, protocol.writable, protocol.transport  # noqa: B018 - all there?
    except (ImportError, AttributeError):
        return None
    _websockets_open = State.OPEN
    return UvicornTransport(protocol)
