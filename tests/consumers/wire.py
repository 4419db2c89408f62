"""A raw WebSocket client for the tests that run a real server (daphne, uvicorn): it reads
only when told to, so a test can leave the server's buffers to fill, and it decodes every
frame the server wrote, byte for byte."""

import contextlib
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
RECEIVE_BUFFER = 65536  # the client's: small, so that a client that does not read is felt
TEXT, CLOSE = 1, 8  # opcodes


@contextlib.contextmanager
def server_running(server: str, app: str, **env: str):
    """``server`` ("daphne" or "uvicorn") serving the ASGI ``app`` ("module:attribute") on a
    free port; yields (port, the process). Its stderr is in ``process.stderr_text`` after."""
    port = free_port()
    command = {
        "daphne": ["daphne", "-b", "127.0.0.1", "-p", str(port), app],
        "uvicorn": ["uvicorn", app, "--port", str(port), "--lifespan", "off"],
    }[server]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield port, process
    finally:
        process.terminate()
        _, process.stderr_text = process.communicate(timeout=15)


def handshake(port: int, path: str = "/") -> socket.socket:
    """A connected, upgraded socket (retrying while the server starts)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n".encode()
        + b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def send_text(sock: socket.socket, text: str) -> None:
    """A client text frame (masked, as RFC 6455 requires of clients)."""
    payload, mask = text.encode(), b"\x01\x02\x03\x04"
    assert len(payload) < 126
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked server frames in ``data``; a frame cut short at
    the end (the connection dropped) is left out."""
    frames, at = [], 0
    while at + 2 <= len(data):
        opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
        assert data[at] & 0x80 and not data[at + 1] & 0x80, "fragmented or masked"
        at += 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, at)
            at += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, at)
            at += 8
        if at + size > len(data):
            break
        frames.append((opcode, data[at : at + size]))
        at += size
    return frames


def read_until(sock: socket.socket, done, *, timeout: float = 10) -> list[tuple[int, bytes]]:
    """Read until ``done(frames)``, the server closes, or nothing came for ``timeout``
    seconds; the frames read."""
    data, frames = b"", []
    sock.settimeout(timeout)
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while not done(frames):
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            frames = server_frames(data)
    return frames
