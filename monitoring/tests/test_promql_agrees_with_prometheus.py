"""The console answers PromQL as a real Prometheus does, over the same remote-written data.

A real Prometheus (Debian's package) receives the same remote_write requests
as the console; hundreds of queries are then asked of both (each as two
instant queries and one range query) and at least 95 % must agree. The list
of disagreements, if any, is written to test-artifacts/promql-compliance.txt.
promtool, Prometheus' own client, reads the console's answers.
"""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import cramjam
import pytest

from monitoring.tests import promql_compliance as compliance
from monitoring.tests.conftest import ARTIFACTS, PROMETHEUS_MISSING, running_prometheus

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PROMTOOL = shutil.which("promtool")


@pytest.fixture
def prometheus(tmp_path):
    """A real Prometheus accepting remote_write; its URL."""
    config = "global:\n  evaluation_interval: 1m\n"
    with running_prometheus(tmp_path, config, "--web.enable-remote-write-receiver") as url:
        yield url


def remote_write_to_prometheus(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        f"{url}/api/v1/write",
        data=body,
        headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 204)


def ask_prometheus(url: str, path: str, params: dict) -> dict:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def push_to_both(client, fleet_token: str, prometheus: str, start_ms: int, end_ms: int) -> None:
    data = compliance.series_data(start_ms, end_ms)
    for write in compliance.write_requests(data, start_ms, end_ms):
        body = bytes(cramjam.snappy.compress_raw(write.SerializeToString()))
        remote_write_to_prometheus(prometheus, body)
        response = client.post(
            "/api/v1/prom/write",
            data=body,
            content_type="application/x-protobuf",
            HTTP_CONTENT_ENCODING="snappy",
            HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
        )
        assert response.status_code == 204, response.content


def test_the_console_answers_promql_like_prometheus(prometheus, client, api, fleet_token, settings):
    settings.AGENT_RATE_LIMIT_PER_MINUTE = 0
    now = datetime.now(UTC).replace(microsecond=0)
    end_ms = int((now - timedelta(minutes=2)).timestamp()) // 15 * 15 * 1000
    start_ms = end_ms - 3600_000
    push_to_both(client, fleet_token, prometheus, start_ms, end_ms)

    instants = [end_ms + 1234, end_ms - 13 * 60_000 + 7000]
    window = {"start": (start_ms + 240_000) / 1000, "end": (end_ms + 180_000) / 1000, "step": "45"}
    asked, answered, disagreements = 0, 0, []
    for query in compliance.queries(end_ms):
        cases = [("query", {"query": query, "time": t / 1000}) for t in instants]
        cases.append(("query_range", {"query": query, **window}))
        for path, params in cases:
            expected = ask_prometheus(prometheus, path, params)
            got = api.get(f"/prometheus/api/v1/{path}", params).json()
            asked += 1
            answered += bool(expected.get("data", {}).get("result"))
            difference = compliance.agree(expected, got)
            if difference:
                disagreements.append(f"{path} {params}\n    {difference}")
    agreeing = asked - len(disagreements)
    report = [
        f"{agreeing} of {asked} agree ({100 * agreeing / asked:.1f} %); {answered} of them with a non-empty result",
        *disagreements,
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "promql-compliance.txt").write_text("\n".join(report) + "\n")
    print(report[0])
    assert asked >= 300 and answered >= 0.8 * asked
    assert agreeing / asked >= 0.95, "\n".join(report[:40])


@pytest.mark.skipif(not PROMTOOL, reason=PROMETHEUS_MISSING)
def test_promtool_reads_the_consoles_answers(console_server, bob_token, web01, write_samples):
    now = datetime.now(UTC).replace(microsecond=0)
    write_samples(
        web01, [("cpu", "usage", {"core": "0"}, now - timedelta(seconds=10 * i), float(i)) for i in range(30)]
    )
    port = urllib.parse.urlsplit(console_server).port
    url = f"http://bob:{bob_token}@127.0.0.1:{port}/prometheus"
    instant = subprocess.run(
        [PROMTOOL, "query", "instant", url, "cpu_usage", f"--time={now.isoformat()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert instant.returncode == 0, instant.stderr
    assert 'cpu_usage{core="0", host="web-01"} => 0' in instant.stdout
    start = (now - timedelta(minutes=2)).isoformat()
    ranged = subprocess.run(
        [
            PROMTOOL,
            "query",
            "range",
            url,
            "max(cpu_usage)",
            f"--start={start}",
            f"--end={now.isoformat()}",
            "--step=1m",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ranged.returncode == 0, ranged.stderr
    assert "{} =>" in ranged.stdout
    assert "12 @[" in ranged.stdout  # the value 2 minutes ago
    refused = subprocess.run(
        [PROMTOOL, "query", "instant", f"http://127.0.0.1:{port}/prometheus", "cpu_usage"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
