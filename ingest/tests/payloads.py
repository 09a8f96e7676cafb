"""The seeds' own example bodies (the curl bodies of their READMEs)."""

# seed 000 README, "Send Monitoring Data"
SEED000_FULL = {
    "host": "server1",
    "server_id": "srv-001",
    "env": "production",
    "owner_team": "devops",
    "timestamp": "2024-01-20T12:34:56Z",
    "metrics": {
        "cpu_usage": 42.5,
        "memory_usage": 70.1,
        "disk_usage": 55.3,
        "network_rx_bytes_per_sec": 12345,
        "network_tx_bytes_per_sec": 6789,
        "tcp_connections": 12,
    },
    "docker_events": [
        {
            "type": "container",
            "action": "start",
            "container": "web-app",
            "image": "nginx:latest",
            "timestamp": "2024-01-20T12:34:56Z",
        }
    ],
    "logs": [{"container": "web-app", "message": "Server started successfully", "timestamp": "2024-01-20T12:34:56Z"}],
    "local_alerts": ["CPU_SPIKE"],
    "score": 0.7,
}

# seed 000 README, "Minimal Test Payload"
SEED000_MINIMAL = {
    "host": "test-server",
    "timestamp": "2024-01-20T12:34:56Z",
    "metrics": {
        "cpu_usage": 25.0,
        "memory_usage": 60.0,
        "disk_usage": 45.0,
        "network_rx_bytes_per_sec": 1000,
        "network_tx_bytes_per_sec": 500,
        "tcp_connections": 5,
    },
    "docker_events": [],
    "logs": [],
    "local_alerts": [],
    "score": 0.5,
}


def seed001_body(server_id) -> dict:
    """seed 001 README, "Ingest Metrics (Bulk)"."""
    return {
        "server_id": str(server_id),
        "metrics": [
            {
                "metric_type": "cpu",
                "metric_name": "usage",
                "value": 45.2,
                "labels": {"core": "0"},
                "timestamp": "2025-11-20T10:00:00Z",
            },
            {
                "metric_type": "ram",
                "metric_name": "usage_percent",
                "value": 78.5,
                "labels": {},
                "timestamp": "2025-11-20T10:00:00Z",
            },
        ],
    }


# seed 002 README, "API Payload Format"
SEED002_BODY = {
    "timestamp": 1707662400,
    "total_cpu_percent": 45.2,
    "top_processes": [{"pid": 1234, "name": "chrome.exe", "cpu_percent": 15.5, "memory_mb": 512.3}],
}
