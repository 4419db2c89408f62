"""An ASGI app for tests/test_consumers.py's server tests (daphne, uvicorn): one
``consumers.hub.Outbox`` per
WebSocket, fed frames faster than a client that does not read can take them.

Each frame is ``<sequence number>:`` padded to 1,000 characters. When the outbox gives up
on the client (``on_slow``) the socket is closed with 4408, like ``LiveConsumer._slow``.
It reports on stderr how the outbox attached to the server's connection, and when it gave
up, how much the server held for the connection.
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
            flow = outbox.flow is not None or hasattr(send, "__self__")  # uvicorn: in send
            print(
                f"attached flow={flow} direct={outbox.direct is not None}",
                file=sys.stderr,
                flush=True,
            )
        if slow:
            if outbox.flow is not None:  # daphne
                transport = outbox.flow.protocol.transport
                buffered = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
            else:  # uvicorn
                buffered = send.__self__.transport.get_write_buffer_size()
            print(f"slow at {sequence} server_buffer={buffered}", file=sys.stderr, flush=True)
            await send({"type": "websocket.close", "code": hub.CLOSE_SLOW})
            break
        if sequence % 100 == 99:
            await asyncio.sleep(0.02)
    while (await receive())["type"] != "websocket.disconnect":
        pass
