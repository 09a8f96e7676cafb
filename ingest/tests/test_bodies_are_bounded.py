"""An agent sends a huge body, a bad token with a body, or many bodies at once, to a real daphne:
the answer comes before the body costs anything."""

import socket
import time

import orjson
import pytest
import requests

from config.tests.fixtures import wait_until
from ingest.tests.payloads import SEED002_BODY
from monitoring.models import Sample
from servers.models import AgentToken, Server

pytestmark = pytest.mark.slow


def _connect(url: str) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _head(path: str, headers: dict) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> tuple[int, bytes]:
    """The status of the answer and what came with it, read until the console closes or answers whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def _inflight_bytes(url: str, token: str) -> float:
    text = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).text
    return next(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("console_ingest_inflight_bytes ")
    )


def _token() -> str:
    return AgentToken.issue("agent", server=Server.objects.create(hostname="web-01"))[1]


@pytest.mark.parametrize("path", ["/ingest/metrics", "/api/logs/stream/billing", "/api/v1/servers"])
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_sent(start_console, path):
    console = start_console(INGEST_MAX_BODY_BYTES="100000")
    token = _token()
    with _connect(console.url) as sock:
        sock.sendall(_head(path, {"Authorization": f"Bearer {token}", "Content-Length": "50000000"}))
        started = time.monotonic()
        status, _ = _status(sock)

    assert status == 413
    assert time.monotonic() - started < 5


def test_a_bad_token_is_401_before_the_body_is_sent(start_console):
    console = start_console()
    with _connect(console.url) as sock:
        sock.sendall(_head("/api/v1/ingest", {"Authorization": "Bearer mca_nope", "Content-Length": "5000000"}))
        status, _ = _status(sock)

    assert status == 401


@pytest.mark.parametrize("path", ["/api/v1/ingest", "/api/v1/servers"])
def test_a_chunked_body_is_cut_at_the_limit_as_it_arrives(start_console, path):
    console = start_console(INGEST_MAX_BODY_BYTES="100000")
    token = _token()
    with _connect(console.url) as sock:
        sock.sendall(_head(path, {"Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"}))
        chunk = b"x" * 10_000
        sent = 0
        answered = None
        sock.settimeout(0.05)
        for _ in range(1000):  # up to 10 MB, far past the limit
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the console closed the connection
                break
            sent += len(chunk)
            try:
                answered = sock.recv(65536)
                if answered:
                    break
            except TimeoutError:
                pass
        sock.settimeout(10)
        if not answered:
            answered = _status(sock)[1]

    assert int(answered.split(b" ", 2)[1]) == 413
    assert sent < 1_000_000


def test_bodies_past_the_bytes_in_flight_are_503_with_retry_after(start_console, bob_token):
    console = start_console(INGEST_MAX_INFLIGHT_BYTES="300000", INGEST_MAX_BODY_BYTES="200000")
    token = _token()
    with _connect(console.url) as first, _connect(console.url) as second:
        first.sendall(_head("/ingest/metrics", {"Authorization": f"Bearer {token}", "Content-Length": "200000"}))
        first.sendall(b"{")  # the first body is on its way and held
        # its declared bytes are counted once its headers reach the console (as /metrics shows an operator)
        wait_until(lambda: _inflight_bytes(console.url, bob_token) >= 200_000, timeout=10)
        second.sendall(_head("/ingest/metrics", {"Authorization": f"Bearer {token}", "Content-Length": "200000"}))
        status, answer = _status(second)

    assert status == 503
    assert b"retry-after: 1" in answer.lower()


def test_a_body_within_every_limit_is_stored(start_console):
    console = start_console(INGEST_MAX_BODY_BYTES="100000")
    body = orjson.dumps(SEED002_BODY)
    with _connect(console.url) as sock:
        headers = {"Authorization": f"Bearer {_token()}", "Content-Length": str(len(body))}
        sock.sendall(_head("/ingest/metrics", {**headers, "Content-Type": "application/json"}) + body)
        status, _ = _status(sock)

    assert status == 200
    stored = {(s.series.name, s.value) for s in Sample.objects.select_related("series")}
    assert ("cpu_usage", 45.2) in stored  # the host's CPU
    assert ("cpu_percent", 15.5) in stored  # and its one process
