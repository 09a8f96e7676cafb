"""An incident on web-01 to analyse: CPU up, database timeouts, a flagged event, docker and agent events."""

from __future__ import annotations

from datetime import datetime, timedelta

from monitoring import storage
from monitoring.storage import Batch, EventRecord, LogRecord


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
        EventRecord(now - timedelta(minutes=2), server.id, "docker", "container", {"action": "die", "name": "worker-1"})
    )
    batch.events.append(
        EventRecord(now - timedelta(minutes=1), server.id, "agent", "high_cpu", {"cpu": 97.5}, status="WARNING")
    )
    batch.seen[str(server.id)] = now
    storage.write(batch)
