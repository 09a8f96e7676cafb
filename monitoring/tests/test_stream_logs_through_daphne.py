"""A service streams logs over one long chunked request to a real daphne.

daphne hands the continuous log stream its body as it arrives
(ingest/daphne_streaming.py), so lines are stored while the request is open:
the test reads the database between two parts of the stream.
"""

import http.client
import urllib.parse
import uuid

import orjson
import pytest

from config.tests.fixtures import wait_until
from monitoring.models import LogEntry


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def open_stream(console_server: str, path: str, token: str) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(console_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    conn.putrequest("POST", path)
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", "application/x-ndjson")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    return conn


def stored(service: str, count: int, within: float = 5.0) -> int:
    """How many lines of the service are stored, once at least ``count`` are (a deadline of ``within`` s)."""

    def enough() -> int:
        found = LogEntry.objects.filter(service=service).count()
        return found if found >= count else 0

    return wait_until(enough, within, what=f"{count} lines of {service}")


@pytest.mark.slow
def test_lines_of_a_chunked_stream_are_stored_before_the_request_ends_under_daphne(console_server, fleet_token):
    service = f"daphne-stream-{uuid.uuid4().hex[:6]}"
    conn = open_stream(console_server, f"/api/logs/stream/{service}/continuous", fleet_token)
    try:
        first = b"".join(orjson.dumps({"level": "INFO", "message": f"early {i}"}) + b"\n" for i in range(3))
        conn.send(chunk(first))
        # the request is still open: the first lines are stored within the ~1 s flush
        assert stored(service, 3) == 3
        assert LogEntry.objects.filter(service=service, message__startswith="early").count() == 3
        conn.send(chunk(b"not json\n" + orjson.dumps({"level": "ERROR", "message": "late"}) + b"\n"))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        summary = orjson.loads(response.read())
    finally:
        conn.close()
    try:
        assert response.status == 200, summary
        assert (summary["lines_received"], summary["logs_stored"], summary["lines_rejected"]) == (5, 4, 1)
        assert LogEntry.objects.filter(service=service).count() == 4
    finally:
        LogEntry.objects.filter(service=service).delete()


@pytest.mark.slow
def test_a_stream_with_a_bad_token_is_refused_before_it_ends_under_daphne(console_server):
    service = f"daphne-stream-{uuid.uuid4().hex[:6]}"
    conn = open_stream(console_server, f"/api/logs/stream/{service}/continuous", "not-a-token")
    try:
        conn.send(chunk(orjson.dumps({"level": "INFO", "message": "refused"}) + b"\n"))
        response = conn.getresponse()  # answered while the body is still open
        body = orjson.loads(response.read())
    finally:
        conn.close()
    assert response.status == 401, body
    assert response.getheader("WWW-Authenticate")
    assert LogEntry.objects.filter(service=service).count() == 0


@pytest.mark.slow
def test_a_plain_request_after_a_stream_is_still_buffered_and_answered_under_daphne(console_server, fleet_token):
    service = f"daphne-plain-{uuid.uuid4().hex[:6]}"
    url = urllib.parse.urlsplit(console_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        body = orjson.dumps({"level": "INFO", "message": "whole"}) + b"\n"
        path = f"/api/logs/stream/{service}/continuous"
        conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {fleet_token}"})
        first = conn.getresponse()
        first_summary = orjson.loads(first.read())
        conn.request("GET", "/api/logs/stream/x/other", headers={"Authorization": f"Bearer {fleet_token}"})
        second = conn.getresponse()
        second.read()
    finally:
        conn.close()
    try:
        assert first.status == 200, first_summary
        assert first_summary["logs_stored"] == 1
        assert second.status in (401, 403, 404, 405)
    finally:
        LogEntry.objects.filter(service=service).delete()
