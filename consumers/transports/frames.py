"""WebSocket text frames built once per event, for the transports that write past ASGI.

Server-to-client frames are not masked (RFC 6455, 5.1), so every spectator of an event gets
the same bytes: a topic releases an event to all its sockets before the next one, and the
last frame built is kept, so the frame is encoded once per event (what autobahn's
``PreparedMessage`` does for a broadcast) instead of once per socket by the server.
"""

from __future__ import annotations

import struct

# (text, frame) of the last frame built. At most one frame, a snapshot maybe, is held.
_last_frame: list = [None, b""]


def text_frame(text: str) -> bytes:
    """An unmasked, unfragmented WebSocket text frame carrying ``text`` (RFC 6455, 5.2)."""
    if text is _last_frame[0]:
        return _last_frame[1]
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    _last_frame[0], _last_frame[1] = text, head + payload
    return _last_frame[1]
