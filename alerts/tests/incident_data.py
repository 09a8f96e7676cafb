"""An incident on web-01 to analyse: CPU up, database timeouts, a flagged event, docker and agent events."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitoring import storage
from monitoring.records import Batch, EventRecord, LogRecord, SnapshotRecord


def store_incident(server, now: datetime) -> None:
    batch = Batch()
    # baseline: an hour of quiet CPU, then ten minutes at ~97%
    for minute in range(70, 10, -1):
        batch.add_sample(server.id, "cpu", "usage", {}, now - timedelta(minutes=minute), 20.0 + (minute % 3))
    for minute in range(10, 0, -1):
        batch.add_sample(server.id, "cpu", "usage", {}, now - timedelta(minutes=minute), 97.0 - (minute % 2))
        batch.add_sample(server.id, "ram", "usage_percent", {}, now - timedelta(minutes=minute), 50.0)
    for i in range(42):
        batch.logs.append(
            LogRecord(
                now - timedelta(seconds=30 + i * 10),
                server.id,
                "web-app",
                "ERROR",
                f"Database timeout after {1000 + i} ms on query {i}",
            )
        )
    for i in range(5):
        batch.logs.append(
            LogRecord(now - timedelta(seconds=15 + i), server.id, "web-app", "INFO", f"GET /health 200 {i}")
        )
    batch.events.append(
        EventRecord(
            now - timedelta(minutes=3),
            server.id,
            "api_module",
            "api_response",
            {"response_time": 8200, "status_code": 200},
            status="CRITICAL",
            severity=0.95,
            reasons=["response_time 8200 exceeds 5000"],
            suggestions=["Check the slow endpoint's dependencies"],
            decision="ESCALATE",
        )
    )
    batch.events.append(
        EventRecord(
            now - timedelta(minutes=2),
            server.id,
            "docker",
            "container",
            {"type": "container", "action": "die", "container": "worker-1", "image": "app:1.4"},
        )
    )
    batch.events.append(
        EventRecord(
            now - timedelta(minutes=1), server.id, "agent", "local_alert", {"alert": "cpu above 95%"}, status="WARNING"
        )
    )
    processes = [
        {"pid": 4242, "name": "java", "cpu_percent": 88.5, "memory_mb": 2048},
        {"pid": 17, "name": "postgres", "cpu_percent": 6.0, "memory_mb": 512},
    ]
    batch.snapshots.append(SnapshotRecord(server.id, now - timedelta(seconds=5), processes=processes, score=0.3))
    batch.seen[str(server.id)] = now
    storage.write(batch)
