"""People and dashboards watch the fleet over WebSockets (seeds 001, 002, 004)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application
from monitoring import records, storage
from monitoring.live import publisher as publishing
from monitoring.live.frames import frames_for_write
from monitoring.live.groups import group
from servers.models import AgentToken

# consumers reach the database from their own threads: data must be committed
pytestmark = pytest.mark.django_db(transaction=True)


def _headers(origin: str | None = "http://localhost:8000", cookie: str | None = None, auth: str | None = None):
    headers = []
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if auth:
        headers.append((b"authorization", auth.encode()))
    return headers


def _store(server, *, metric_type="cpu", name="usage", value=42.0, logs=(), service="checkout"):
    batch = records.Batch()
    now = datetime.now(UTC)
    batch.add_sample(server.pk, metric_type, name, {}, now, value)
    for level, message in logs:
        batch.logs.append(records.LogRecord(now, server.pk, service, level, message, {}, "test"))
    batch.seen[str(server.pk)] = now
    result = storage.write(batch)
    publishing.publish_write(batch, result)
    return result


async def _open(path: str, **headers):
    communicator = WebsocketCommunicator(application, path, headers=_headers(**headers))
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def _greeting(communicator):
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "connected"
    return hello


async def _next(communicator, kind: str, timeout: float = 5):
    """The next frame of a kind, skipping others (health updates arrive beside metrics)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = await communicator.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def test_a_stranger_cannot_connect(web01):
    async def scenario():
        for path in (
            "/api/v1/stream",
            "/ws/metrics",
            "/api/ws/live",
            "/api/ws/health",
            "/api/ws/alerts",
            "/api/ws/logs/x",
        ):
            _, connected, _ = await _open(path)
            assert not connected, path

    async_to_sync(scenario)()


def test_an_agent_token_cannot_watch(agent_token):
    async def scenario():
        _, connected, _ = await _open(f"/api/v1/stream?token={agent_token}")
        assert not connected

    async_to_sync(scenario)()


def test_a_revoked_person_token_cannot_watch(bob):
    token, raw = AgentToken.issue("user", user=bob)
    token.revoke()

    async def scenario():
        _, connected, _ = await _open(f"/api/ws/live?token={raw}")
        assert not connected

    async_to_sync(scenario)()


def test_a_page_from_another_site_cannot_connect(bob_token):
    async def scenario():
        _, connected, _ = await _open(f"/api/ws/live?token={bob_token}", origin="https://evil.example.com")
        assert not connected

    async_to_sync(scenario)()


def test_a_person_connects_with_token_in_query_or_header_or_session(client, bob, bob_token):
    client.force_login(bob)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def scenario():
        for kwargs in (
            {"path": f"/api/ws/live?token={bob_token}"},
            {"path": "/api/ws/live", "auth": f"Bearer {bob_token}", "origin": None},
            {"path": "/api/ws/live", "cookie": cookie},
        ):
            communicator, connected, _ = await _open(**kwargs)
            assert connected, kwargs
            hello = await _greeting(communicator)
            kinds = {s["subscription_type"] for s in hello["subscriptions"]}
            assert kinds == {"logs", "health", "alerts"}
            await communicator.disconnect()

    async_to_sync(scenario)()


def test_seed001_stream_filters_by_server_and_metric_type(web01, web02, bob_token):
    async def scenario():
        only_web01, ok, _ = await _open(f"/api/v1/stream?server_id={web01.pk}&token={bob_token}")
        assert ok
        only_ram, ok, _ = await _open(f"/api/v1/stream?metric_type=ram&token={bob_token}")
        assert ok
        everything, ok, _ = await _open(f"/ws/metrics?token={bob_token}")
        assert ok
        for c in (only_web01, only_ram, everything):
            await _greeting(c)

        from channels.db import database_sync_to_async

        await database_sync_to_async(_store)(web02, value=7.0)
        await database_sync_to_async(_store)(web01, metric_type="ram", value=55.0)

        frame = await only_web01.receive_json_from(timeout=5)
        assert frame["type"] == "metrics" and frame["server_id"] == str(web01.pk)
        assert frame["series"][0]["metric_type"] == "ram" and frame["series"][0]["points"][0][1] == 55.0
        assert await only_web01.receive_nothing(timeout=0.3)

        frame = await only_ram.receive_json_from(timeout=5)
        assert frame["server_id"] == str(web01.pk) and frame["metric_type"] == "ram"
        assert await only_ram.receive_nothing(timeout=0.3)

        seen = {(await everything.receive_json_from(timeout=5))["server_id"] for _ in range(2)}
        assert seen == {str(web01.pk), str(web02.pk)}
        for c in (only_web01, only_ram, everything):
            await c.disconnect()

    async_to_sync(scenario)()


def test_stream_with_server_and_type_gets_only_both(web01, bob_token):
    async def scenario():
        from channels.db import database_sync_to_async

        both, ok, _ = await _open(f"/api/v1/stream?server_id={web01.pk}&metric_type=cpu&token={bob_token}")
        assert ok
        await _greeting(both)
        await database_sync_to_async(_store)(web01, metric_type="disk", value=1.0)
        await database_sync_to_async(_store)(web01, metric_type="cpu", value=2.0)
        frame = await both.receive_json_from(timeout=5)
        assert [s["metric_type"] for s in frame["series"]] == ["cpu"]
        assert await both.receive_nothing(timeout=0.3)
        await both.disconnect()

    async_to_sync(scenario)()


def test_a_bad_server_id_in_the_query_gets_an_error_frame(bob_token):
    async def scenario():
        communicator, ok, _ = await _open(f"/api/v1/stream?server_id=not-a-uuid&token={bob_token}")
        assert ok
        frame = await communicator.receive_json_from(timeout=5)
        assert frame == {"type": "error", "error": "server_id must be a UUID"}
        assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"

    async_to_sync(scenario)()


def test_subscribe_to_a_service_then_unsubscribe(web01, bob_token):
    async def scenario():
        from channels.db import database_sync_to_async

        communicator, ok, _ = await _open(f"/api/ws/live?defaults=none&token={bob_token}")
        assert ok
        assert (await _greeting(communicator))["subscriptions"] == []
        await communicator.send_json_to(
            {"type": "subscribe", "subscription_type": "service_logs", "service_name": "checkout"}
        )
        assert await communicator.receive_json_from(timeout=5) == {
            "type": "subscribed",
            "subscription_type": "service_logs",
            "service_name": "checkout",
        }
        await database_sync_to_async(_store)(web01, logs=[("ERROR", "payment failed"), ("INFO", "ok")])
        await database_sync_to_async(_store)(web01, logs=[("INFO", "other")], service="search")
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "log_processed"
        assert frame["data"]["service"] == "checkout" and frame["data"]["count"] == 2
        assert frame["data"]["levels"] == {"ERROR": 1, "INFO": 1}
        assert [line["message"] for line in frame["data"]["logs"]] == ["payment failed", "ok"]
        assert await communicator.receive_nothing(timeout=0.3)

        await communicator.send_json_to(
            {"type": "unsubscribe", "subscription_type": "service_logs", "service_name": "checkout"}
        )
        assert (await communicator.receive_json_from(timeout=5))["type"] == "unsubscribed"
        await database_sync_to_async(_store)(web01, logs=[("INFO", "after")], value=3.0)
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_service_log_socket_and_live_socket_get_each_frame_once(web01, bob_token):
    async def scenario():
        from channels.db import database_sync_to_async

        service, ok, _ = await _open(f"/api/ws/logs/checkout?token={bob_token}")
        assert ok
        everything, ok, _ = await _open(f"/api/ws/live?token={bob_token}")
        assert ok
        await _greeting(service)
        await _greeting(everything)
        # the live socket also subscribes to the service: still one frame per request
        await everything.send_json_to(
            {"type": "subscribe", "subscription_type": "service_logs", "service_name": "checkout"}
        )
        assert (await everything.receive_json_from(timeout=5))["type"] == "subscribed"
        await database_sync_to_async(_store)(web01, logs=[("WARNING", "slow")])
        assert (await service.receive_json_from(timeout=5))["type"] == "log_processed"
        kinds = []
        while not await everything.receive_nothing(timeout=0.5):
            kinds.append((await everything.receive_json_from())["type"])
        assert sorted(kinds) == ["health_update", "log_processed"]
        await service.disconnect()
        await everything.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "message is not valid JSON"),
        ("[1, 2]", "message must be a JSON object with a type"),
        ('{"type": "dance"}', "type must be subscribe, unsubscribe, subscriptions, ping or heartbeat"),
        ('{"type": "subscribe"}', "subscription_type must be one of"),
        ('{"type": "subscribe", "subscription_type": "service_logs"}', "service_name is required"),
        ('{"type": "subscribe", "subscription_type": "server", "server_id": "x"}', "server_id must be a UUID"),
        (
            '{"type": "subscribe", "subscription_type": "service_logs", "service_name": 5}',
            "service_name must be a string",
        ),
        ('{"type": "unsubscribe", "subscription_type": "fleet"}', "not subscribed to that"),
        ("x" * 9000, "messages are JSON objects of at most"),
    ],
)
def test_a_bad_message_gets_an_error_frame_and_the_socket_stays_open(bob_token, message, error):
    async def scenario():
        communicator, ok, _ = await _open(f"/api/ws/live?token={bob_token}")
        assert ok
        await _greeting(communicator)
        await communicator.send_to(text_data=message)
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "error" and frame["error"].startswith(error), frame
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_fleet_subscribers_get_headline_figures(web01, bob_token):
    async def scenario():
        from channels.db import database_sync_to_async

        communicator, ok, _ = await _open(f"/api/ws/live?defaults=none&token={bob_token}")
        assert ok
        await _greeting(communicator)
        await communicator.send_json_to({"type": "subscribe", "subscription_type": "fleet"})
        await communicator.receive_json_from(timeout=5)
        await database_sync_to_async(_store)(web01, metric_type="system", name="memory_usage", value=70.5)
        frame = await _next(communicator, "server_update")
        assert frame["server_id"] == str(web01.pk) and frame["latest"] == {"memory": 70.5}
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_an_alert_change_reaches_the_alerts_stream(web01, bob_token):
    from types import SimpleNamespace

    from alerts.frames import publish_alert

    alert = SimpleNamespace(
        pk=7, state="firing", severity="critical", rule=SimpleNamespace(name="High CPU"), server_id=web01.pk,
        summary="cpu 97% on web-01", value=97.0, labels={}, started_at=datetime.now(UTC),
    )  # fmt: skip

    async def scenario():
        communicator, ok, _ = await _open(f"/api/ws/alerts?token={bob_token}")
        assert ok
        await _greeting(communicator)
        publish_alert(alert, "fired")
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["type"] == "alert_triggered" and frame["event"] == "fired"
        assert frame["data"]["rule"] == "High CPU" and frame["data"]["server_id"] == str(web01.pk)
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_redis_down_never_slows_ingest(web01):
    from channels_redis.core import RedisChannelLayer

    dead = publishing.Publisher(size=10, timeout=0.2, layer=RedisChannelLayer(hosts=["redis://127.0.0.1:1"]))
    batch = records.Batch()
    batch.add_sample(web01.pk, "cpu", "usage", {}, datetime.now(UTC), 1.0)
    result = storage.WriteResult(series={1: (str(web01.pk), "cpu", "usage", b"{}")})
    started = time.perf_counter()
    for _ in range(50):  # more than the queue holds: the rest are dropped, not waited for
        dead.submit(lambda: frames_for_write(batch, result))
    assert time.perf_counter() - started < 0.05
    assert dead.drain(timeout=5)
    assert dead.sent == 0 and dead.dropped >= 40


def test_group_names_stay_valid_for_any_service_name():
    assert group("logs.service", "checkout-api_v2") == "logs.service.checkout-api_v2"
    odd = group("logs.service", "pay ments/é" + "x" * 200)
    assert odd.startswith("logs.service.h") and len(odd) < 100
    assert uuid.UUID(group("metrics.server", str(uuid.uuid4())).split(".", 2)[2])


def test_an_alert_that_fires_is_pushed_to_alert_watchers(web01, bob_token):
    from alerts.frames import connect_alert_signals
    from alerts.models import Alert, AlertRule

    assert connect_alert_signals()
    rule = AlertRule.objects.create(name="disk full", metric_type="disk", metric_name="usage", threshold=95)
    alert = Alert.objects.create(rule=rule, server=web01, fingerprint=rule.fingerprint(web01.pk, {}), value=97)

    async def scenario():
        from channels.db import database_sync_to_async

        communicator, ok, _ = await _open(f"/api/ws/alerts?token={bob_token}")
        assert ok
        await _greeting(communicator)
        await database_sync_to_async(alert.fire)(97.0)
        frame = await _next(communicator, "alert_triggered")
        assert frame["event"] == "firing"
        assert frame["data"]["rule"] == "disk full" and frame["data"]["server"] == "web-01"
        assert frame["data"]["state"] == "firing" and frame["data"]["value"] == 97.0
        await communicator.disconnect()

    async_to_sync(scenario)()
