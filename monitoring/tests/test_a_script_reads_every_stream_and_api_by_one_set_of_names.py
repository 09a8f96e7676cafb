"""A script reads every WebSocket frame and every read API by one set of names.

server_id, hostname, metric_type, metric_name, labels, timestamp, value: wherever a
frame or an answer speaks of one of these, it uses that name (today's other names stay
beside them). The data arrives the way agents send it (seeds 000, 001, 003 and 004 over
HTTP), an alert fires, and a socket on /api/ws/live watches everything.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from alerts.models import Alert, AlertRule
from config.asgi import application
from monitoring import service_health
from monitoring.live.publisher import publisher
from monitoring.timestamps import iso

SERVER = {"server_id", "hostname"}
TIMED = {"timestamp"}
METRIC = {"metric_type", "metric_name", "labels", "timestamp", "value"}
ALL = SERVER | METRIC

# frame (kind, and for health_update whose) -> {where in the frame: the names it must carry}
FRAMES = {
    "metrics": {"": SERVER, "series[]": METRIC},
    "server_update": {"": SERVER | TIMED},
    "log_processed": {"data": SERVER, "data.logs[]": SERVER | TIMED},
    "event_processed": {"data": SERVER | TIMED},
    "health_update of a server": {"data": SERVER | TIMED},
    "health_update of a service": {"data": SERVER | TIMED},  # a service as the server whose agent posts its logs
    "alert_triggered": {"data": ALL},
    "heartbeat": {"": TIMED},
}

# read API -> {where in the answer: the names it must carry}
READS = {
    "/api/v1/metrics?server_id={id}": {"[]": ALL},
    "/api/v1/metrics?server_id={id}&from={since}": {"[]": SERVER | {"metric_type", "metric_name", "labels"}},
    "/api/metrics/recent": {"[]": ALL},
    "/api/v1/servers": {"results[]": SERVER | {"labels"}},
    "/api/v1/servers/{id}": {"": SERVER | {"labels"}},
    "/api/v1/servers/{id}/snapshot": {"": SERVER | TIMED},
    "/api/v1/servers/{id}/timeline?from={since}": {"": SERVER, "items[]": TIMED},
    "/api/v1/logs": {"results[]": SERVER | TIMED},
    "/api/health/": {"services[]": SERVER, "recent_critical_errors[]": SERVER | TIMED},
    "/api/health/services/checkout": {"": SERVER, "instances[]": SERVER, "recent_critical_errors[]": SERVER | TIMED},
    "/api/logs/services": {"services[]": SERVER},
    "/api/v1/monitoring/logs": {"logs[]": SERVER | TIMED},
    "POST /api/v1/monitoring/logs/query": {"logs[]": SERVER | TIMED},
    "POST /api/analytics/query": {"results[]": SERVER | TIMED},
    "/api/v1/alerts": {"results[]": ALL},
    "/api/v1/alerts/{alert}": {"": ALL},
    "/api/alerts/recent": {"[]": ALL},
    "/api/health/alerts": {"alerts[]": ALL},
    "/api/notifications/": {"results[]": TIMED},
}


def _parts(body, where: str) -> list[dict]:
    """The objects at ``where`` in a body: "" the body, "a.b" a nested object, "a[]" each item of a list."""
    found = [body]
    for step in [s for s in where.split(".") if s]:
        key, many = step.removesuffix("[]"), step.endswith("[]")
        found = [item[key] if key else item for item in found]
        if many:
            assert all(isinstance(items, list) for items in found), f"{where!r}: not a list"
            found = [entry for items in found for entry in items]
    return found


def _missing(body, expected: dict[str, set[str]]) -> dict[str, set[str]]:
    missing = {}
    for where, names in expected.items():
        parts = _parts(body, where)
        assert parts, f"nothing at {where!r}: an empty answer proves nothing"
        for part in parts:
            if names - set(part):
                missing[where] = names - set(part)
    return missing


def _send_everything(client, agent_token: str, hostname: str) -> None:
    """What the agents send: a seed 000 snapshot, seed 001 metrics, seed 004 logs, a seed 003 event."""
    now = iso(datetime.now(UTC))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {agent_token}"}

    def post(path: str, body: dict) -> None:
        response = client.post(path, orjson.dumps(body), content_type="application/json", **auth)
        assert response.status_code < 300, (path, response.content)

    post(
        "/ingest",
        {
            "host": hostname,
            "timestamp": now,
            "metrics": {"cpu_usage": 42.5, "memory_usage": 70.1, "disk_usage": 55.3},
            "docker_events": [],
            "logs": [],
            "local_alerts": [],
            "score": 0.7,
        },
    )
    sample = {"metric_type": "cpu", "metric_name": "usage", "value": 41.0, "labels": {"core": "0"}, "timestamp": now}
    post("/api/v1/ingest", {"metrics": [sample]})
    lines = [
        {"timestamp": now, "level": "CRITICAL", "message": "payment gateway down", "service": "checkout"},
        {"timestamp": now, "level": "ERROR", "message": "payment gateway timeout", "service": "checkout"},
    ]
    post("/api/logs/stream/checkout", {"service_name": "checkout", "logs": lines})
    # an event is the one record whose server the writer does not mark as heard from
    post("/api/v1/monitoring/events", {"source": "orders", "event_type": "api_call", "data": {"response_time": 9000}})


def _fire_an_alert(server) -> Alert:
    rule = AlertRule.objects.create(name="cpu high", metric_type="cpu", metric_name="usage", threshold=40)
    alert = Alert.objects.create(
        rule=rule, server=server, fingerprint=rule.fingerprint(server.id, {}), labels={"server": "web-01"}, value=42.5
    )
    alert.opened()
    alert.fire(42.5)
    return alert


def _kind(frame: dict) -> str:
    if frame["type"] != "health_update":
        return frame["type"]
    return "health_update of a service" if "service_name" in frame["data"] else "health_update of a server"


async def _watch(socket, wanted: set[str], early: list[dict], timeout: float = 30) -> dict[str, dict]:
    """The first frame of each wanted kind (a kind may come more than once), ``early`` ones included."""
    seen: dict[str, dict] = {}
    for frame in early:
        seen.setdefault(_kind(frame), frame)
    deadline = time.monotonic() + timeout
    while wanted - set(seen) and time.monotonic() < deadline:
        try:
            frame = await socket.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # a timeout (the communicator then stops the consumer): say which kinds never came
            break
        seen.setdefault(_kind(frame), frame)
    assert not wanted - set(seen), f"no {sorted(wanted - set(seen))} frame"
    return seen


def test_a_script_reads_every_frame_and_read_api_by_the_same_names(
    transactional_db, settings, client, agent_token, web01, bob_token, api
):
    settings.WEBSOCKET_HEARTBEAT_INTERVAL = 1  # a heartbeat frame within the test
    cache.delete(service_health.LAST_STATUS_KEY)  # the service's turn to unhealthy is news

    async def scenario():
        socket = WebsocketCommunicator(application, f"/api/ws/live?token={bob_token}")
        connected, _ = await socket.connect(timeout=5)
        assert connected
        for subscription in (
            {"subscription_type": "metrics"},
            {"subscription_type": "events"},
            {"subscription_type": "fleet"},
        ):
            await socket.send_json_to({"type": "subscribe", **subscription})
        assert (await socket.receive_json_from(timeout=15))["type"] == "connected"
        early, subscribed = [], 0
        while subscribed < 3:  # the data goes out once every subscription is in place
            answer = await socket.receive_json_from(timeout=15)
            subscribed += answer["type"] == "subscribed"
            early += [answer] if answer["type"] != "subscribed" else []
        await sync_to_async(_send_everything, thread_sensitive=True)(client, agent_token, web01.hostname)
        await sync_to_async(_fire_an_alert, thread_sensitive=True)(web01)
        await sync_to_async(service_health.publish_changes, thread_sensitive=True)()
        frames = await _watch(socket, set(FRAMES), early)
        await socket.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert publisher.drain(timeout=15)
    for kind, expected in FRAMES.items():
        assert not _missing(frames[kind], expected), (kind, _missing(frames[kind], expected))
    assert frames["metrics"]["hostname"] == frames["alert_triggered"]["data"]["hostname"] == "web-01"
    assert frames["event_processed"]["data"]["hostname"] == "web-01"  # the event's agent names it
    assert frames["log_processed"]["data"]["logs"][0]["hostname"] == "web-01"

    alert = Alert.objects.get()
    assert (
        api.post("/api/notifications/", {"title": "deploy", "message": "v2 is out"}, format="json").status_code == 201
    )
    since = iso(datetime.now(UTC) - timedelta(minutes=10))
    for url, expected in READS.items():
        method, _, path = url.rpartition(" ")
        path = path.format(id=web01.pk, since=since, alert=alert.pk)
        body = api.post(path, {"limit": 10}, format="json") if method == "POST" else api.get(path)
        assert body.status_code == 200, (url, body.content)
        assert not _missing(body.json(), expected), (url, _missing(body.json(), expected))
        named = {
            part["hostname"]
            for where, names in expected.items()
            if "hostname" in names
            for part in _parts(body.json(), where)
        }
        assert not named or "web-01" in named, (url, named)
