"""Grafana, promtool and people read the console through Prometheus' HTTP API at /prometheus/api/v1/."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from servers.models import AgentToken

pytestmark = pytest.mark.django_db

API = "/prometheus/api/v1"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def cpu(web01, db02, write_samples):
    """cpu/usage{core} of web-01 every 10 s for 10 minutes (0, 1, 2, ...), and of db-02 (100, 101, ...)."""
    samples = []
    for i in range(60):
        ts = T0 + timedelta(seconds=10 * i)
        samples.append(("cpu", "usage", {"core": "0"}, ts, float(i)))
    write_samples(web01, samples)
    write_samples(db02, [("cpu", "usage", {"core": "0"}, T0 + timedelta(seconds=10 * i), 100.0 + i) for i in range(60)])


def seconds(ts: datetime) -> str:
    return str(ts.timestamp())


def test_an_instant_query_names_console_series_by_type_and_name_with_their_host(api, cpu):
    at = T0 + timedelta(minutes=5)
    response = api.get(f"{API}/query", {"query": 'cpu_usage{host="web-01"}', "time": seconds(at)})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"] == {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "cpu_usage", "core": "0", "host": "web-01"}, "value": [at.timestamp(), "30"]}
        ],
    }


def test_a_range_query_posted_as_a_form_like_grafana(api, cpu):
    start, end = T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)
    form = {"query": "sum(rate(cpu_usage[1m]))", "start": seconds(start), "end": seconds(end), "step": "60"}
    response = api.post(f"{API}/query_range", form, format="multipart")
    assert response.status_code == 200, response.content
    result = response.json()["data"]["result"]
    assert [point[1] for point in result[0]["values"]] == ["0.2", "0.2", "0.2"]
    assert result[0]["metric"] == {}


def test_aggregations_and_binary_operators(api, cpu):
    at = seconds(T0 + timedelta(minutes=5))

    def values(query):
        response = api.get(f"{API}/query", {"query": query, "time": at})
        assert response.status_code == 200, response.content
        return sorted((r["metric"].get("host", ""), r["value"][1]) for r in response.json()["data"]["result"])

    assert values("max by (host) (cpu_usage)") == [("db-02", "130"), ("web-01", "30")]
    assert values("cpu_usage > 100") == [("db-02", "130")]
    assert values('cpu_usage - on(core) group_left cpu_usage{host="web-01"}') == [("db-02", "100"), ("web-01", "0")]
    assert values("topk(1, cpu_usage)") == [("db-02", "130")]


def test_a_query_prometheus_would_refuse_is_a_400_bad_data(api, cpu):
    response = api.get(f"{API}/query", {"query": "sum(rate(cpu_usage[5m])"})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith('invalid parameter "query"')


def test_a_range_query_without_a_step_is_a_400_naming_it(api):
    response = api.get(f"{API}/query_range", {"query": "up", "start": "1", "end": "2"})
    assert response.status_code == 400
    assert 'invalid parameter "step"' in response.json()["error"]


def test_a_range_vector_cannot_be_a_range_query(api):
    response = api.get(f"{API}/query_range", {"query": "up[5m]", "start": "1", "end": "100", "step": "10"})
    assert response.status_code == 400
    assert "range vector" in response.json()["error"]


def test_too_many_points_per_series_is_a_400(api):
    response = api.get(f"{API}/query_range", {"query": "up", "start": "0", "end": "120000", "step": "10"})
    assert response.status_code == 400
    assert "11,000 points" in response.json()["error"]


def test_ambiguous_matching_is_a_422_execution_error(api, cpu):
    response = api.get(f"{API}/query", {"query": "cpu_usage + on(core) cpu_usage", "time": seconds(T0)})
    assert response.status_code == 422
    assert response.json()["errorType"] == "execution"


def test_series_labels_and_label_values(api, cpu):
    response = api.get(f"{API}/series", {"match[]": "cpu_usage"})
    assert response.status_code == 200
    assert response.json()["data"] == [
        {"__name__": "cpu_usage", "core": "0", "host": "db-02"},
        {"__name__": "cpu_usage", "core": "0", "host": "web-01"},
    ]
    assert api.get(f"{API}/series").json()["error"] == "no match[] parameter provided"
    assert api.get(f"{API}/labels").json()["data"] == ["__name__", "core", "host"]
    assert api.get(f"{API}/label/host/values").json()["data"] == ["db-02", "web-01"]
    assert api.get(f"{API}/label/__name__/values").json()["data"] == ["cpu_usage"]
    later = seconds(T0 + timedelta(hours=2))
    assert api.get(f"{API}/series", {"match[]": "cpu_usage", "start": later}).json()["data"] == []


def test_metadata_and_buildinfo(api, cpu):
    assert api.get(f"{API}/metadata").json()["data"] == {"cpu_usage": [{"type": "unknown", "help": "", "unit": ""}]}
    assert api.get(f"{API}/status/buildinfo").json()["data"]["version"].startswith("2.")


def test_a_person_token_as_basic_auth_password_reads(client, cpu, bob_token):
    credentials = base64.b64encode(f"bob:{bob_token}".encode()).decode()
    response = client.get(f"{API}/query", {"query": "1+1"}, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 200
    assert response.json()["data"]["result"][1] == "2"


def test_a_logged_in_session_reads(client, bob):
    client.force_login(bob)
    assert client.get(f"{API}/query", {"query": "vector(1)"}).status_code == 200


def test_nobody_and_agents_are_refused(client, agent_token):
    response = client.get(f"{API}/query", {"query": "1"})
    assert response.status_code == 401
    assert "Basic" in response["WWW-Authenticate"]
    assert client.get(f"{API}/query", {"query": "1"}, HTTP_AUTHORIZATION=f"Bearer {agent_token}").status_code == 403
    assert client.get(f"{API}/query", {"query": "1"}, HTTP_AUTHORIZATION="Bearer mcu_nope").status_code == 401


def test_a_revoked_token_is_refused(client, bob_token):
    AgentToken.objects.update(revoked_at=datetime.now(UTC))
    assert client.get(f"{API}/query", {"query": "1"}, HTTP_AUTHORIZATION=f"Bearer {bob_token}").status_code == 401


def test_grafana_posts_url_encoded_forms(client, cpu, bob_token):
    at = seconds(T0 + timedelta(minutes=5))
    response = client.post(
        f"{API}/query",
        f"query=count(cpu_usage)&time={at}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {bob_token}",
    )
    assert response.status_code == 200
    assert response.json()["data"]["result"][0]["value"][1] == "2"


def test_receivers_series_keep_their_names_and_others_are_sanitized(api, web01, write_samples):
    write_samples(
        web01,
        [
            ("otlp", "checkout.duration_count", {"service.name": "checkout"}, T0, 4.0),
            ("prometheus", "node_load1", {"instance": "web-01:9100", "host": "node-7"}, T0, 0.5),
            ("collectd", "cpu-0/cpu-idle", {}, T0, 97.0),
        ],
    )
    response = api.get(f"{API}/series", {"match[]": '{__name__=~".+"}'})
    assert response.json()["data"] == [
        {"__name__": "checkout.duration_count", "host": "web-01", "service.name": "checkout"},
        {"__name__": "collectd_cpu_0_cpu_idle", "host": "web-01"},
        {"__name__": "node_load1", "host": "node-7", "instance": "web-01:9100"},
    ]
    at = seconds(T0)
    result = api.get(f"{API}/query", {"query": "collectd_cpu_0_cpu_idle", "time": at}).json()["data"]["result"]
    assert result[0]["value"][1] == "97"


def test_grafana_alerting_pages_find_no_rules(api):
    assert api.get(f"{API}/rules").json() == {"status": "success", "data": {"groups": []}}
    assert api.get(f"{API}/alerts").json() == {"status": "success", "data": {"alerts": []}}
