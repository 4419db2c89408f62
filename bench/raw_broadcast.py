"""Baselines of bench/fanout.py: broadcast with nothing but the server in the way.

``application`` is a raw ASGI app (run under daphne or uvicorn like the real one): it keeps
the ``send`` callable of every WebSocket and, on ``GET /broadcast?v=N``, hands each one the
same pre-encoded frame. ``websockets_main`` is a bare ``websockets`` server doing the same
with ``websockets.broadcast``. The frame has the shape and size (``BENCH_FRAME_BYTES``) of
the app's ``match.updated`` event frames.
"""

import asyncio
import os
import sys
from http import HTTPStatus
from urllib.parse import parse_qs

FRAME_BYTES = int(os.environ.get("BENCH_FRAME_BYTES", "600"))


def frame(version: int) -> str:
    head = f'{{"type":"event","version":{version},"event":"match.updated","data":{{"pad":"'
    tail = '"}}'
    return head + "x" * max(0, FRAME_BYTES - len(head) - len(tail)) + tail


sockets: set = set()


async def application(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        sockets.add(send)
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            sockets.discard(send)
    elif scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/broadcast":
            version = int(parse_qs(scope["query_string"].decode())["v"][0])
            text = frame(version)
            for socket_send in list(sockets):
                await socket_send({"type": "websocket.send", "text": text})
            status = 204
        else:
            status = 200  # /healthz
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return


async def websockets_main(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    async def handler(connection):
        await connection.wait_closed()

    def process_request(connection, request):
        if request.path.startswith("/broadcast"):
            version = int(parse_qs(request.path.split("?", 1)[1])["v"][0])
            broadcast(server.connections, frame(version))
            return connection.respond(HTTPStatus.NO_CONTENT, "")
        if request.path.startswith("/healthz"):
            return connection.respond(HTTPStatus.OK, "")
        return None

    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=process_request,
        compression=None,
        max_queue=None,
    ) as server:
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(websockets_main(int(sys.argv[1])))
