"""Every ingest path is declared once (ingest/routes.py): Django, the fast path and the request log agree."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.urls import resolve, reverse

from ingest import streaming
from ingest.fastpath import IngestFastPath
from ingest.routes import LOGGED_PREFIXES, ROUTES

FAST_PATHS = [p for route in ROUTES if route.fast for p in route.paths]


class Django:
    """Stands where Django is behind the fast path: records what reached it, answers 418."""

    def __init__(self):
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def fast_path():
    behind = Django()
    app = IngestFastPath(behind, threads=1)
    yield app, behind
    app.close_connections()


def _post(app, path: str) -> int:
    async def post() -> int:
        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": []}
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": b"{}", "more_body": False})
        start = await communicator.receive_output(10)
        await communicator.receive_output(10)
        return start["status"]

    return async_to_sync(post)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", FAST_PATHS)
def test_every_metric_ingest_path_is_answered_by_the_fast_path(fast_path, path):
    app, behind = fast_path
    assert _post(app, path) == 401  # no token: the ingest view itself refused it, in the pool
    assert behind.paths == []


def test_other_posts_go_on_to_django(fast_path):
    app, behind = fast_path
    assert _post(app, "/api/v1/servers") == 418
    assert _post(app, "/api/logs/stream/checkout") == 418
    assert behind.paths == ["/api/v1/servers", "/api/logs/stream/checkout"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.view is not None], ids=lambda r: r.pattern)
def test_django_serves_every_route_with_the_same_view(route):
    example = "/" + route.pattern.replace("<str:service_name_in_path>", "checkout")
    assert resolve(example).func is route.view
    if route.name:
        assert reverse(route.name, kwargs=resolve(example).kwargs) == example
    if route.trailing_slash:
        assert resolve(example + "/").func is route.view


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.pattern)
def test_the_request_log_takes_every_logged_route(route):
    example = "/" + route.pattern.replace("<str:service_name_in_path>", "checkout")
    assert example.startswith(LOGGED_PREFIXES) is route.logged


def test_the_continuous_stream_route_is_the_one_streamed_ahead_of_django():
    (route,) = [r for r in ROUTES if r.name == "logs-stream-continuous"]
    assert streaming.PATH.match("/" + route.pattern.replace("<str:service_name_in_path>", "checkout"))
