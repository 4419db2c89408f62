"""An ASGI app for tests/consumers/test_sockets.py's server tests (daphne, uvicorn): one
``consumers.hub.Outbox`` per
WebSocket, fed frames faster than a client that does not read can take them.

Each frame is ``<sequence number>:`` padded to 1,000 characters. When the outbox gives up
on the client (``on_slow``) the socket is closed with 4408, like ``LiveConsumer._slow``.
It reports on stderr the transport the outbox got for the server's connection, and when it
gave up, how much the server held for the connection (``Transport.buffered``).
"""

import asyncio
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from consumers import hub  # noqa: E402 - needs the settings

hub.BACKLOG_LIMIT = 1000
FRAMES = 20000


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    slow = []
    outbox = hub.Outbox(send, on_slow=lambda: slow.append(True))
    await send({"type": "websocket.accept"})
    for sequence in range(FRAMES):
        outbox.put(f"{sequence}:".ljust(1000, "x"))
        if sequence == 0:
            transport = outbox.transport
            print(f"transport={transport.name}", file=sys.stderr, flush=True)
        if slow:
            buffered = transport.buffered()
            print(f"slow at {sequence} server_buffer={buffered}", file=sys.stderr, flush=True)
            await send({"type": "websocket.close", "code": hub.CLOSE_SLOW})
            break
        if sequence % 100 == 99:
            await asyncio.sleep(0.02)
    while (await receive())["type"] != "websocket.disconnect":
        pass
