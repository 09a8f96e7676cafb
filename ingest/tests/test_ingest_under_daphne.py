"""Agents post to the console as daphne serves it (ASGI): the seed ingest paths' fast path."""

import orjson
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from django.test import override_settings

from config.asgi import application
from ingest import fastpath
from ingest.tests.payloads import SEED000_MINIMAL, SEED002_BODY, seed001_body
from monitoring.models import Sample
from servers.models import Server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _pool_connections_closed():
    """The pool threads keep their connections; close them so the test database can go.

    Django's flush after a transactional test empties managed tables only: the
    partitioned ones are emptied here, so later tests start from nothing.
    """
    yield
    fastpath.close_connections()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE monitoring_sample, monitoring_logentry, monitoring_event")


async def _post(path: str, body: bytes, headers: dict, chunks: int = 1) -> tuple[int, dict, dict]:
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("10.1.2.3", 5555),
        "server": ("127.0.0.1", 8000),
    }
    app = ApplicationCommunicator(application, scope)
    size = max(1, len(body) // chunks + 1)
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    for index, part in enumerate(parts):
        await app.send_input({"type": "http.request", "body": part, "more_body": index < len(parts) - 1})
    start = await app.receive_output(10)
    content = await app.receive_output(10)
    return start["status"], dict(start["headers"]), orjson.loads(content["body"])


def post(path: str, body: bytes, headers: dict, chunks: int = 1) -> tuple[int, dict, dict]:
    return async_to_sync(_post)(path, body, headers, chunks)


def _headers(token: str, body: bytes) -> dict:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Content-Length": str(len(body))}


def test_bulk_metrics_are_stored(web01, agent_token):
    body = orjson.dumps(seed001_body(web01.id))

    status, headers, answer = post("/api/v1/ingest", body, _headers(agent_token, body), chunks=3)

    assert status == 202, answer
    assert headers[b"content-type"] == b"application/json"
    assert answer["samples"] == 2
    assert Sample.objects.filter(series__server=web01).count() == 2


def test_a_snapshot_is_stored(fleet_token):
    body = orjson.dumps(SEED000_MINIMAL)

    status, _, answer = post("/ingest", body, _headers(fleet_token, body))

    assert status == 200, answer
    assert Server.objects.filter(hostname="test-server").exists()


def test_processes_are_stored(web01, agent_token):
    body = orjson.dumps(SEED002_BODY)

    status, _, _ = post("/ingest/metrics", body, {"X-Agent-Token": agent_token})

    assert status == 200
    assert Sample.objects.filter(series__server=web01).count() == 4  # cpu_usage; the process's cpu, memory, pids


def test_no_token_is_401(web01):
    body = orjson.dumps(seed001_body(web01.id))

    status, headers, _ = post("/api/v1/ingest", body, {"Content-Type": "application/json"})

    assert status == 401
    assert b"www-authenticate" in headers


def test_bad_input_is_400_naming_the_field(web01, agent_token):
    body = orjson.dumps({"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": "x"}]})

    status, _, answer = post("/api/v1/ingest", body, _headers(agent_token, body))

    assert status == 400
    assert answer["errors"][0]["field"] == "metrics[0].value"


@override_settings(INGEST_MAX_BODY_BYTES=500)
def test_a_body_over_the_limit_is_413_even_without_a_length(web01, agent_token):
    body = orjson.dumps(seed001_body(web01.id)) * 3

    status, _, _ = post("/api/v1/ingest", body, {"Authorization": f"Bearer {agent_token}"}, chunks=4)

    assert status == 413
    assert not Sample.objects.filter(series__server=web01).exists()
