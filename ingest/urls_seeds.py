"""The seeds' ingest paths (000, 001, 002), each a wire-format adapter behind ingest_endpoint."""

from datetime import UTC, datetime

from django.urls import path

from ingest import seed000, seed001, seed002, snapshot_print
from ingest.base import ingest_endpoint
from monitoring import seed002_redis


def _seed000_answer(batch, result) -> dict:
    if not result.duplicate and batch.snapshots:  # after the commit, as seed 000 printed what it received
        snapshot_print.print_snapshot(batch.snapshots[-1].payload or {})
    # seed 000 answered a success message with a timestamp
    return {
        "status": "success",
        "message": "Data received successfully",
        "timestamp": datetime.now(UTC).isoformat(),
        **result.as_dict(),
    }


def _seed001_answer(batch, result) -> dict:
    return {"status": "accepted", "count": len(batch.samples), **result.as_dict()}


def _seed002_answer(batch, result) -> dict:
    # after the commit: the payload to seed 002's Redis side too (a queue put; nothing when it is off)
    if not result.duplicate:
        payload, ts = seed002.as_received(batch)
        seed002_redis.publish_metrics(payload, ts)
    return {"status": "ok", **result.as_dict()}


seed000_ingest = ingest_endpoint(seed000.adapt, respond=_seed000_answer, status=200)
seed001_ingest = ingest_endpoint(seed001.adapt, respond=_seed001_answer, status=202)
seed002_ingest = ingest_endpoint(seed002.adapt, respond=_seed002_answer, status=200)

urlpatterns = [
    path("ingest", seed000_ingest, name="ingest-seed000"),
    path("ingest/", seed000_ingest),
    path("api/v1/ingest", seed001_ingest, name="ingest-seed001"),
    path("api/v1/ingest/", seed001_ingest),
    path("ingest/metrics", seed002_ingest, name="ingest-seed002"),
    path("ingest/metrics/", seed002_ingest),
]
