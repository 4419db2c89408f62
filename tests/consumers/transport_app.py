"""An ASGI app for tests/consumers/test_transports.py: one WebSocket, written to through
``consumers.transports`` as the outbox writes to it, and reports of what the transport did
as text frames ``report <json>``, sent through ASGI.

1. Before the accept: ``transport_for`` the server's ``send``, and a ``write``.
2. After it: ``write("direct")``, then the first report.
3. On the client's ``flood``: frames ``<n>:`` padded to 1,000 characters, each written, or
   sent through ASGI when ``write`` declines, as the outbox does, until the transport is
   ``paused``, or a ``write`` declines after others worked (the server's buffer is full),
   or ``FLOOD_LIMIT`` frames went; then a report of which, with ``buffered()`` then.
4. Then it goes on as the outbox would (waits for ``resumed()``, or sends the declined
   frame through ``send``, which waits), and sends the last report, ``drained``.
"""

import asyncio
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from consumers.transports import transport_for  # noqa: E402 - needs the settings
from consumers.transports.asgi import server_send  # noqa: E402

FLOOD_LIMIT = 20000  # 20 MB: far more than the kernel's buffers hold


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    send = server_send(send)
    transport = transport_for(send)
    before_accept = transport.write("before accept")
    await send({"type": "websocket.accept"})
    direct = transport.write("direct")

    async def report(**facts) -> None:
        await send({"type": "websocket.send", "text": "report " + json.dumps(facts)})

    await report(name=transport.name, before_accept=before_accept, direct=direct)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "flood":
            await flood(send, transport, report)


async def flood(send, transport, report) -> None:
    sent = written = 0
    stopped = "limit"
    while sent < FLOOD_LIMIT:
        if transport.paused:
            stopped = "paused"
            break
        text = f"{sent}:".ljust(1000, "x")
        if transport.write(text):
            written += 1
        elif written:
            stopped = "declined"  # it wrote before: the server's buffer is full now
            break
        else:
            await send({"type": "websocket.send", "text": text})
        sent += 1
        if sent % 100 == 0:
            await asyncio.sleep(0.01)  # let the server's loop write to the socket
    await report(stopped=stopped, sent=sent, written=written, buffered=transport.buffered())
    # Then as the outbox goes on: it waits while paused; a declined frame goes through
    # ``send`` (which waits, under uvicorn, until the buffer has drained).
    if stopped == "paused":
        await asyncio.wait_for(transport.resumed(), timeout=30)
    elif stopped == "declined":
        await send({"type": "websocket.send", "text": f"{sent}:".ljust(1000, "x")})
        sent += 1
    await report(drained=True, sent=sent, paused=transport.paused)
