"""A seed 002 C++ agent posts CPU and its top processes to POST /ingest/metrics."""

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from ingest.tests.payloads import SEED002_BODY
from monitoring.models import Sample, Snapshot
from servers.models import Server

pytestmark = pytest.mark.django_db

AT = datetime.fromtimestamp(1707662400, UTC)


def test_cpu_and_processes_are_stored_with_x_agent_token(client, agent_token, web01):
    response = client.post(
        "/ingest/metrics", SEED002_BODY, content_type="application/json", HTTP_X_AGENT_TOKEN=agent_token
    )

    assert response.status_code == 200, response.content
    cpu = Sample.objects.get(series__server=web01, series__metric_type="system", series__name="cpu_usage")
    assert (cpu.ts, cpu.value) == (AT, 45.2)
    process = {
        s.series.name: s.value
        for s in Sample.objects.filter(series__server=web01, series__metric_type="process").select_related("series")
    }
    assert process == {"cpu_percent": 15.5, "memory_mb": 512.3, "instances": 1}
    labels = Sample.objects.filter(series__metric_type="process").first().series.labels
    assert labels == {"name": "chrome.exe"}
    snapshot = Snapshot.objects.get(server=web01)
    assert snapshot.processes == SEED002_BODY["top_processes"]
    assert snapshot.ts == AT


def test_the_latest_process_table_replaces_the_last(agent, web01):
    agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")
    later = {**SEED002_BODY, "timestamp": 1707662410, "top_processes": []}

    agent.post("/ingest/metrics", later, content_type="application/json")

    assert Snapshot.objects.get(server=web01).processes == []


def test_no_processes_is_fine(agent, web01):
    body = {"timestamp": 1707662400, "total_cpu_percent": 3}

    response = agent.post("/ingest/metrics", body, content_type="application/json")

    assert response.status_code == 200
    assert Sample.objects.filter(series__server=web01).count() == 1


@override_settings(AGENT_API_TOKEN="shared-secret")
def test_the_shared_agent_api_token_registers_by_hostname_header(client):
    response = client.post(
        "/ingest/metrics",
        SEED002_BODY,
        content_type="application/json",
        HTTP_X_AGENT_TOKEN="shared-secret",
        HTTP_X_AGENT_HOSTNAME="desk-7",
    )

    assert response.status_code == 200, response.content
    assert Sample.objects.filter(series__server__hostname="desk-7").count() == 4


@override_settings(AGENT_API_TOKEN="shared-secret")
@pytest.mark.parametrize("near_miss", ["shared-secre", "shared-secretx", "shared-secr\xe9t"])
def test_a_near_miss_of_the_shared_agent_api_token_is_refused(client, near_miss):
    response = client.post(
        "/ingest/metrics", SEED002_BODY, content_type="application/json", HTTP_X_AGENT_TOKEN=near_miss
    )

    assert response.status_code == 401
    assert not Sample.objects.exists()


@override_settings(INGEST_ALLOW_ANONYMOUS=True)
def test_an_anonymous_agent_is_named_after_its_address(client):
    response = client.post("/ingest/metrics", SEED002_BODY, content_type="application/json", REMOTE_ADDR="10.0.0.5")

    assert response.status_code == 200, response.content
    assert Server.objects.filter(hostname="agent-10.0.0.5").exists()


def _table(processes: list[tuple[int, str, float, float]], at: int = 1707662400) -> dict:
    return {
        "timestamp": at,
        "total_cpu_percent": 50.0,
        "top_processes": [{"pid": p, "name": n, "cpu_percent": c, "memory_mb": m} for p, n, c, m in processes],
    }


def _process_values(server, name: str) -> dict:
    found = Sample.objects.filter(series__server=server, series__metric_type="process", series__name=name)
    return {s.series.labels["name"]: s.value for s in found.select_related("series")}


def test_a_process_name_with_several_pids_is_one_series_summed(agent, web01):
    table = _table([(10, "php-fpm", 5.0, 40.0), (11, "php-fpm", 7.5, 42.0), (12, "nginx", 1.0, 8.0)])

    agent.post("/ingest/metrics", table, content_type="application/json")

    assert _process_values(web01, "cpu_percent") == {"php-fpm": 12.5, "nginx": 1.0}
    assert _process_values(web01, "memory_mb") == {"php-fpm": 82.0, "nginx": 8.0}
    assert _process_values(web01, "instances") == {"php-fpm": 2, "nginx": 1}


@override_settings(PROCESS_SERIES_TOP_N=10)
def test_only_the_busiest_names_get_series_and_the_snapshot_keeps_the_whole_table(agent, web01):
    table = _table([(100 + i, f"worker-{i:02d}", float(i), 10.0) for i in range(60)])

    agent.post("/ingest/metrics", table, content_type="application/json")

    names = set(_process_values(web01, "cpu_percent"))
    assert names == {f"worker-{i:02d}" for i in range(50, 60)}
    assert len(Snapshot.objects.get(server=web01).processes) == 60


def test_churning_pids_add_no_series(agent, web01):
    for minute in range(5):
        pids = range(1000 * minute, 1000 * minute + 20)
        table = _table([(pid, f"job-{pid % 3}", 2.0, 5.0) for pid in pids], at=1707662400 + 60 * minute)
        agent.post("/ingest/metrics", table, content_type="application/json")

    assert web01.series.filter(metric_type="process").count() == 3 * 3
