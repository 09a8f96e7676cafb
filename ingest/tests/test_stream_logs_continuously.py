"""A service keeps one request open and streams newline-delimited JSON logs (seed 004 /continuous).

Through the raw ASGI app that config/asgi.py mounts ahead of Django, with
channels' ApplicationCommunicator: lines are stored while the request is
still arriving, a bad line is reported without losing the stream.
"""

import asyncio
import uuid

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator

from config.asgi import application
from monitoring.models import LogEntry

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service():
    """A service name of this test; transactional tests leave partitioned rows behind, so clean them."""
    name = f"stream-{uuid.uuid4().hex[:8]}"
    yield name
    LogEntry.objects.filter(service=name).delete()


def scope_for(service, token, method="POST"):
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": f"/api/logs/stream/{service}/continuous",
        "raw_path": f"/api/logs/stream/{service}/continuous".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/x-ndjson")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


def line(message, level="INFO"):
    return orjson.dumps({"level": level, "message": message, "metadata": {"n": message}}) + b"\n"


count_logs = database_sync_to_async(lambda service: LogEntry.objects.filter(service=service).count())


async def response_of(communicator):
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    return start["status"], orjson.loads(body["body"])


def test_lines_are_stored_while_the_request_is_still_open(fleet_token, service):
    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        await communicator.send_input(
            {"type": "http.request", "body": line("first") + line("second"), "more_body": True}
        )
        stored_mid_stream = 0
        for _ in range(40):  # within the flush interval (1 s), not at the end of the request
            await asyncio.sleep(0.1)
            stored_mid_stream = await count_logs(service)
            if stored_mid_stream:
                break
        await communicator.send_input({"type": "http.request", "body": line("third", "ERROR"), "more_body": False})
        status, summary = await response_of(communicator)
        return stored_mid_stream, status, summary

    stored_mid_stream, status, summary = async_to_sync(scenario)()
    assert stored_mid_stream == 2
    assert status == 200
    assert summary["logs_stored"] == 3
    assert summary["batches"] == 2
    assert LogEntry.objects.filter(service=service, level="ERROR").count() == 1


def test_a_bad_line_is_reported_and_the_stream_goes_on(fleet_token, service):
    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        # a line split across chunks, a bad line and an unknown level in the middle
        await communicator.send_input({"type": "http.request", "body": b'{"level":"INFO","mess', "more_body": True})
        await communicator.send_input({"type": "http.request", "body": b'age":"split"}\n{oops\n', "more_body": True})
        body = line("loud", level="SHOUTING") + line("last")
        await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
        return await response_of(communicator)

    status, summary = async_to_sync(scenario)()
    assert status == 200
    assert (summary["lines_received"], summary["logs_stored"], summary["lines_rejected"]) == (4, 2, 2)
    assert [e["field"] for e in summary["errors"]] == ["line 2", "line 3.level"]
    messages = set(LogEntry.objects.filter(service=service).values_list("message", flat=True))
    assert messages == {"split", "last"}


def test_a_long_stream_is_flushed_in_batches(fleet_token, service):
    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        for chunk in range(6):
            body = b"".join(line(f"m{chunk}-{i}") for i in range(250))
            await communicator.send_input({"type": "http.request", "body": body, "more_body": chunk < 5})
        return await response_of(communicator)

    status, summary = async_to_sync(scenario)()
    assert status == 200
    assert summary["logs_stored"] == 1500
    assert summary["batches"] == 3
    assert LogEntry.objects.filter(service=service).count() == 1500


def test_a_stream_without_a_valid_token_is_refused(service):
    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, "mcf_not-a-token"))
        await communicator.send_input({"type": "http.request", "body": line("x"), "more_body": False})
        return await response_of(communicator)

    status, body = async_to_sync(scenario)()
    assert status == 401
    assert LogEntry.objects.filter(service=service).count() == 0


def test_a_stream_must_be_posted(fleet_token, service):
    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token, method="GET"))
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        return await response_of(communicator)

    status, _ = async_to_sync(scenario)()
    assert status == 405


def test_other_paths_still_reach_django(fleet_token):
    async def scenario():
        scope = scope_for("x", fleet_token, method="GET")
        scope["path"] = scope["raw_path"] = "/healthz"
        scope["raw_path"] = b"/healthz"
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(timeout=10)
        return start["status"]

    assert async_to_sync(scenario)() == 200


def test_an_over_long_line_is_reported_and_skipped(fleet_token, service, monkeypatch):
    from ingest.seed004 import LineStream

    monkeypatch.setattr(LineStream, "MAX_LINE_BYTES", 200)

    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        await communicator.send_input({"type": "http.request", "body": line("before"), "more_body": True})
        huge = b'{"level":"INFO","message":"' + b"x" * 150
        await communicator.send_input({"type": "http.request", "body": huge, "more_body": True})
        await communicator.send_input({"type": "http.request", "body": b"y" * 150, "more_body": True})
        await communicator.send_input({"type": "http.request", "body": b'"}\n' + line("after"), "more_body": False})
        return await response_of(communicator)

    status, summary = async_to_sync(scenario)()
    assert status == 200
    assert (summary["lines_received"], summary["logs_stored"], summary["lines_rejected"]) == (3, 2, 1)
    assert summary["errors"] == [{"field": "line 2", "message": "longer than 200 bytes"}]
    assert set(LogEntry.objects.filter(service=service).values_list("message", flat=True)) == {"before", "after"}
