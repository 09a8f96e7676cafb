"""A service streams logs over one long chunked request to a real daphne.

daphne (Twisted) hands an application the request body only once the whole
body has arrived, so under daphne the lines are stored when the stream ends;
that they are stored while a stream is still open is shown at the ASGI level
(ingest/tests/test_stream_logs_continuously.py), as an ASGI server that streams
request bodies (uvicorn, hypercorn) delivers them.
"""

import http.client
import time
import urllib.parse
import uuid

import orjson
import pytest

from monitoring.models import LogEntry


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.slow
def test_a_chunked_stream_is_stored_and_bad_lines_reported_under_daphne(console_server, fleet_token):
    service = f"daphne-stream-{uuid.uuid4().hex[:6]}"
    url = urllib.parse.urlsplit(console_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        conn.putrequest("POST", f"/api/logs/stream/{service}/continuous")
        conn.putheader("Authorization", f"Bearer {fleet_token}")
        conn.putheader("Content-Type", "application/x-ndjson")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        first = b"".join(orjson.dumps({"level": "INFO", "message": f"early {i}"}) + b"\n" for i in range(3))
        conn.send(chunk(first))
        time.sleep(0.3)
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
