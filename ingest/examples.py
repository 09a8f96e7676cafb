"""The seeds' own example bodies (the curl bodies of their READMEs), and the receivers' smallest ones.

The OpenAPI schema shows them on each ingest path (ingest/openapi.py) and the
tests post them (ingest/tests/payloads.py).
"""

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

# seed 004 README, "Send logs"
SEED004_BATCH = {
    "service_name": "my-service",
    "logs": [
        {
            "timestamp": "2024-01-15T10:30:00Z",
            "level": "ERROR",
            "message": "Database connection failed",
            "service": "my-service",
            "metadata": {"error_code": "DB_001"},
        }
    ],
}
SEED004_SINGLE = SEED004_BATCH["logs"][0]
SEED004_REGISTER = {"service_name": "my-service", "environment": "production", "owner_team": "payments"}

# collectd's write_http plugin (Format "JSON"): one value list
COLLECTD_VALUES = [
    {
        "values": [0.42],
        "dstypes": ["gauge"],
        "dsnames": ["value"],
        "time": 1732900000.0,
        "interval": 10.0,
        "host": "web-01",
        "plugin": "load",
        "plugin_instance": "",
        "type": "load",
        "type_instance": "shortterm",
    }
]

# OTLP/HTTP with JSON encoding: one gauge point, one log record
OTLP_METRICS = {
    "resourceMetrics": [
        {
            "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "web-01"}}]},
            "scopeMetrics": [
                {
                    "metrics": [
                        {
                            "name": "system.cpu.utilization",
                            "gauge": {"dataPoints": [{"timeUnixNano": "1732900000000000000", "asDouble": 0.42}]},
                        }
                    ]
                }
            ],
        }
    ]
}
OTLP_LOGS = {
    "resourceLogs": [
        {
            "resource": {
                "attributes": [
                    {"key": "host.name", "value": {"stringValue": "web-01"}},
                    {"key": "service.name", "value": {"stringValue": "checkout"}},
                ]
            },
            "scopeLogs": [
                {
                    "logRecords": [
                        {
                            "timeUnixNano": "1732900000000000000",
                            "severityText": "ERROR",
                            "body": {"stringValue": "boom"},
                        }
                    ]
                }
            ],
        }
    ]
}
