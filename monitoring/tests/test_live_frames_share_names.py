"""A script watching the stream reads the same names as the REST reads: server_id, metric_name, timestamp, …"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from monitoring import storage
from monitoring.live.publisher import publish_write


def _store(server, now: datetime | None = None) -> datetime:
    batch = storage.Batch()
    now = now or datetime.now(UTC).replace(microsecond=0)
    batch.add_sample(server.pk, "cpu", "usage", {"core": "0"}, now - timedelta(seconds=10), 40.0)
    batch.add_sample(server.pk, "cpu", "usage", {"core": "0"}, now, 42.5)
    batch.seen[str(server.pk)] = now
    publish_write(batch, storage.write(batch))
    return now


def test_a_metrics_frame_names_series_and_latest_point_as_the_rest_reads_do(transactional_db, web01, bob_token):
    async def scenario():
        socket = WebsocketCommunicator(application, f"/api/v1/stream?server_id={web01.pk}&token={bob_token}")
        connected, _ = await socket.connect(timeout=5)
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "connected"
        now = await database_sync_to_async(_store)(web01)
        frame = await socket.receive_json_from(timeout=5)
        # the series known now: the write takes its one-statement path, which names the host too
        await database_sync_to_async(_store)(web01, now + timedelta(seconds=20))
        again = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return frame, again, now

    frame, again, now = async_to_sync(scenario)()
    assert (frame["type"], frame["server_id"], frame["hostname"]) == ("metrics", str(web01.pk), "web-01")
    assert (again["type"], again["hostname"]) == ("metrics", "web-01")
    [series] = frame["series"]
    assert (series["metric_type"], series["metric_name"], series["labels"]) == ("cpu", "usage", {"core": "0"})
    assert (series["timestamp"], series["value"]) == (now.isoformat().replace("+00:00", "Z"), 42.5)
    assert [value for _, value in series["points"]] == [40.0, 42.5]  # every point, as before
