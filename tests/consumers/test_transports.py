"""consumers/transports: the frames, the portable ASGI transport, and daphne's and uvicorn's
on real server processes (tests/consumers/transport_app.py), read by a raw client."""

import asyncio
import json
import time

import pytest
from channels.sessions import InstanceSessionWrapper

from consumers.transports import transport_for
from consumers.transports.asgi import ASGI, send_begin, server_send
from consumers.transports.frames import text_frame
from tests.consumers.wire import CLOSE, TEXT, handshake, read_until, send_text, server_running

# --- Frames -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_text_frame_is_the_frame_autobahn_prepares_for_a_broadcast(size):
    from autobahn.websocket.protocol import PreparedMessage

    text = "x" * (size - 2) + "é" if size >= 2 else "x" * size  # ``size`` bytes
    expected = PreparedMessage(text.encode(), False, False, True).payloadHybi
    assert text_frame(text) == expected
    assert text_frame(text) == expected  # the kept frame, asked again


def test_a_text_frame_is_built_for_each_new_text_even_an_equal_one():
    first = text_frame("one")
    assert text_frame("two") == b"\x81\x03two"
    copy = "".join(["o", "ne"])  # equal, another object
    assert text_frame(copy) == first == b"\x81\x03one"


# --- The portable transport and the server's send -------------------------------------------


async def test_a_send_of_no_known_server_gets_the_asgi_transport_which_writes_nothing():
    sent = []

    async def send(message):
        sent.append(message)

    transport = transport_for(send)

    assert transport is ASGI and transport.name == "asgi"
    assert transport.write("frame") is False and transport.paused is False
    assert transport.buffered() is None
    await transport.resumed()  # returns at once: never paused
    transport.release()
    assert sent == []


def test_the_servers_send_is_found_under_channels_session_wrappers():
    async def send(message):
        return None

    wrapped = InstanceSessionWrapper({"cookies": {}}, send).send
    twice = InstanceSessionWrapper({"cookies": {}}, wrapped).send

    assert server_send(twice) is send
    assert server_send(wrapped) is send
    assert server_send(send) is send


async def test_send_begin_finishes_a_send_that_need_not_wait_in_one_step():
    sent = []

    async def send(message):
        sent.append(message)

    assert send_begin(send, {"type": "websocket.send", "text": "a"}) is None
    assert sent == [{"type": "websocket.send", "text": "a"}]


async def test_send_begin_hands_back_the_rest_of_a_send_that_has_to_wait():
    gate = asyncio.Event()
    sent = []

    async def send(message):
        sent.append("started")
        await gate.wait()
        await asyncio.sleep(0)  # a bare yield too
        sent.append(message["text"])

    rest = send_begin(send, {"type": "websocket.send", "text": "a"})
    assert rest is not None and sent == ["started"]
    finishing = asyncio.ensure_future(rest)
    await asyncio.sleep(0.01)
    assert not finishing.done()
    gate.set()
    await asyncio.wait_for(finishing, timeout=1)
    assert sent == ["started", "a"]


async def test_send_begin_raises_what_the_first_step_of_send_raises():
    async def send(message):
        raise ConnectionResetError("the client is gone")

    with pytest.raises(ConnectionResetError):
        send_begin(send, {"type": "websocket.send", "text": "a"})


# --- daphne and uvicorn, real processes ---------------------------------------------------------


def reports(frames) -> list[dict]:
    return [
        json.loads(payload[len(b"report ") :])
        for opcode, payload in frames
        if opcode == TEXT and payload.startswith(b"report ")
    ]


def numbered(frames) -> list[int]:
    return [
        int(payload.split(b":", 1)[0])
        for opcode, payload in frames
        if opcode == TEXT and payload[:1].isdigit()
    ]


@pytest.mark.parametrize(
    ("server", "direct_writes", "name", "stops"),
    [
        ("daphne", "1", "daphne", "paused"),  # writes; Twisted pauses the producer
        ("daphne", "0", "daphne", "paused"),  # ASGI only, the flow control kept
        ("uvicorn", "1", "uvicorn", "declined"),  # writes until uvicorn stops writing
        ("uvicorn", "0", "asgi", "limit"),  # ASGI only: uvicorn's send waits by itself
    ],
)
def test_a_server_socket_gets_its_servers_transport(server, direct_writes, name, stops):
    """Before the accept a transport writes nothing; after it, with direct writes on, the
    frame reaches the client as the server would have framed it, ahead of what is sent
    through ASGI after it. A client that does not read makes the transport say so
    (``paused``, or a declined write) while the server holds a bounded buffer; once the
    client reads, it gets every frame, in order."""
    app = "tests.consumers.transport_app:application"
    with server_running(server, app, LIVE_DIRECT_WRITES=direct_writes) as (port, process):
        sock = handshake(port)
        frames = read_until(sock, lambda frames: reports(frames))
        direct = direct_writes == "1"
        assert reports(frames) == [{"name": name, "before_accept": False, "direct": direct}]
        assert [payload for _, payload in frames[:-1]] == ([b"direct"] if direct else [])

        send_text(sock, "flood")
        time.sleep(2)  # not reading: the kernel's buffers fill, then the server's
        frames = read_until(sock, lambda frames: len(reports(frames)) == 2, timeout=60)
        sock.close()
    assert len(reports(frames)) == 2, (reports(frames), process.stderr_text[-2000:])
    stopped, drained = reports(frames)
    assert stopped["stopped"] == stops, (stopped, process.stderr_text[-2000:])
    if stops == "limit":
        assert stopped["buffered"] is None  # the ASGI transport cannot tell
    else:
        assert 0 < stopped["buffered"] < 256 * 1024  # bounded (~64 KiB), not 20 MB
        assert stopped["sent"] < 20000
    assert stopped["written"] == (stopped["sent"] if direct else 0)
    assert drained == {"drained": True, "sent": drained["sent"], "paused": False}
    assert numbered(frames) == list(range(drained["sent"]))  # in order, none lost
    assert not [opcode for opcode, _ in frames if opcode == CLOSE]
