"""A live socket under a real daphne: heartbeats, silent clients, revoked tokens, ended sessions, slow readers.

The console runs with one-second intervals (WEBSOCKET_HEARTBEAT_INTERVAL,
WEBSOCKET_AUTH_RECHECK_SECONDS) and a small send bound; the clients are the
``websockets`` library (which answers pings, like a browser or wscat) and a raw
socket that completes the handshake and then answers nothing.
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.parse
import uuid

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from servers.models import AgentToken

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST = {"WEBSOCKET_HEARTBEAT_INTERVAL": "1", "WEBSOCKET_AUTH_RECHECK_SECONDS": "1"}


def _ws_url(console, path: str = "/api/ws/live") -> str:
    return console.url.replace("http://", "ws://") + path


def _frames_until(ws, wanted, within: float = 15.0) -> list[dict]:
    """Frames read until ``wanted(frames)`` holds (or the deadline passes); raises ConnectionClosed if it closes."""
    frames: list[dict] = []
    deadline = time.monotonic() + within
    while not wanted(frames) and time.monotonic() < deadline:
        try:
            frames.append(orjson.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        except TimeoutError:
            break
    return frames


def _closed(ws, within: float = 15.0) -> tuple[int | None, list[dict]]:
    """Read until the server closes the socket: (close code, frames read before)."""
    frames: list[dict] = []
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            frames.append(orjson.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), frames
    except TimeoutError:
        pass
    return None, frames


def _raw_handshake(console, path: str, token: str, receive_buffer: int | None = None) -> socket.socket:
    """A TCP socket that has opened a WebSocket and will answer nothing: no frames, no pongs."""
    url = urllib.parse.urlsplit(console.url)
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect((url.hostname, url.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_every_socket_gets_heartbeats_and_a_client_that_only_pongs_stays_open(start_console, bob_token):
    console = start_console(**FAST)
    with connect(_ws_url(console), additional_headers={"Authorization": f"Bearer {bob_token}"}) as ws:
        # seed 004's clients send nothing after subscribing; their WebSocket library answers daphne's pings
        frames = _frames_until(ws, lambda got: sum(f["type"] == "heartbeat" for f in got) >= 4)
        beats = [frame for frame in frames if frame["type"] == "heartbeat"]
        assert len(beats) >= 4, frames  # open well past two intervals without sending a frame
        assert all(beat["interval"] == 1 and beat["ts"].endswith("Z") for beat in beats)
        ws.send(orjson.dumps({"type": "heartbeat"}).decode())  # the console's pages answer: no error back
        ws.send(orjson.dumps({"type": "ping"}).decode())
        answers = _frames_until(ws, lambda got: any(f["type"] in ("pong", "error") for f in got))
        assert [f["type"] for f in answers if f["type"] != "heartbeat"] == ["pong"]


def test_a_client_that_answers_nothing_is_closed_after_two_intervals(start_console, bob_token):
    console = start_console(**FAST)
    sock = _raw_handshake(console, "/api/ws/live", bob_token)
    opened = time.monotonic()
    received = b""
    sock.settimeout(1.0)
    try:
        while time.monotonic() - opened < 15:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        took = time.monotonic() - opened
    finally:
        sock.close()
    assert took < 15, "a client answering nothing was never closed"
    assert took >= 1.5  # not before it had an interval to answer the ping
    assert b'"type":"heartbeat"' in received
    assert b"\x89" in received  # daphne's ping (FIN + opcode 9), which it never answered


def test_a_revoked_tokens_socket_is_closed_within_a_recheck(start_console, bob):
    console = start_console(**FAST)
    token, raw = AgentToken.issue("user", user=bob)
    with connect(_ws_url(console), additional_headers={"Authorization": f"Bearer {raw}"}) as ws:
        assert _frames_until(ws, lambda got: bool(got))[0]["type"] == "connected"
        token.revoke()
        code, frames = _closed(ws)
    assert code == 4401
    assert {"type": "error", "error": "the token was revoked", "close_code": 4401} in frames


def test_logging_out_closes_the_sessions_socket(start_console, bob, client):
    console = start_console(**FAST)
    client.force_login(bob)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    origin = console.url
    with connect(_ws_url(console), additional_headers={"Cookie": cookie}, origin=origin) as ws:
        assert _frames_until(ws, lambda got: bool(got))[0]["type"] == "connected"
        client.logout()
        code, frames = _closed(ws)
    assert code == 4401
    assert any(frame.get("error") == "the session ended" for frame in frames)


def _open_sockets(console, token: str) -> float:
    """The console's own count of open live sockets (GET /metrics, as an operator reads it)."""
    import requests

    text = requests.get(f"{console.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("console_websockets_open "))


def test_a_reader_too_slow_for_its_frames_is_disconnected(start_console, bob_token):
    console = start_console(WEBSOCKET_SEND_BUFFER_BYTES="65536")
    sock = _raw_handshake(console, "/api/ws/live", bob_token, receive_buffer=4096)  # reads nothing from now on
    layer = get_channel_layer()
    padding = "x" * 32_000
    deadline = time.monotonic() + 30
    try:
        assert _open_sockets(console, bob_token) == 1
        while _open_sockets(console, bob_token) and time.monotonic() < deadline:
            for _ in range(10):
                frame = orjson.dumps({"type": "log_processed", "data": {"message": padding}}).decode()
                message = {"type": "live.frame", "id": uuid.uuid4().hex, "kind": "logs", "text": frame}
                async_to_sync(layer.group_send)("logs", {**message, "group": "logs"})
            time.sleep(0.05)  # pace the sender: the channel layer drops a channel's messages over its capacity
        assert _open_sockets(console, bob_token) == 0, "a client reading nothing kept its socket"
    finally:
        sock.close()


def test_a_socket_over_the_persons_cap_is_closed_with_1013_and_a_reason(start_console, bob_token):
    console = start_console(MAX_WEBSOCKET_CONNECTIONS_PER_PERSON="1")
    headers = {"Authorization": f"Bearer {bob_token}"}
    with connect(_ws_url(console), additional_headers=headers) as first:
        assert _frames_until(first, lambda got: bool(got))[0]["type"] == "connected"
        with connect(_ws_url(console), additional_headers=headers) as second:
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=10)
                second.recv(timeout=10)
    assert closed.value.rcvd.code == 1013
    assert "MAX_WEBSOCKET_CONNECTIONS_PER_PERSON" in closed.value.rcvd.reason
