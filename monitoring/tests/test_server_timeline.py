"""One timeline per host: alerts, events, docker events, error lines, deploys and anomalies on one axis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert, AlertRule
from monitoring import storage
from monitoring.models import Annotation
from servers.models import AgentToken, Server

DEPLOY = {"title": "deploy checkout v1.4.2", "servers": ["web-01"], "url": "https://ci.example.com/runs/812",
          "tags": {"version": "1.4.2"}, "text": "rolled out by CI"}  # fmt: skip


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def ci(fleet_token):
    return client_with(fleet_token)


def test_ci_marks_a_deploy_with_a_fleet_token(ci, web01):
    response = ci.post("/api/v1/annotations", DEPLOY, format="json")
    assert response.status_code == 201, response.json()
    stored = Annotation.objects.get()
    assert (stored.server, stored.kind, stored.title, stored.tags) == (web01, "deploy", DEPLOY["title"], DEPLOY["tags"])
    assert stored.author.startswith("fleet token") and response.json()["annotations"][0]["id"] == stored.pk


def test_bob_notes_something_for_the_whole_fleet(api, bob):
    response = api.post("/api/v1/annotations", {"title": "network maintenance", "kind": "note"}, format="json")
    assert response.status_code == 201
    note = Annotation.objects.get()
    assert note.server is None and note.kind == "note" and note.author == "bob"


def test_an_agent_token_or_nobody_cannot_annotate(client, agent_token, web01):
    assert client_with(agent_token).post("/api/v1/annotations", DEPLOY, format="json").status_code == 403
    assert APIClient().post("/api/v1/annotations", DEPLOY, format="json").status_code in (401, 403)
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"servers": ["web-01", "nope"]}, "servers[1]"),
        ({"servers": []}, "servers"),
        ({"ts": "yesterday"}, "ts"),
        ({"kind": "party"}, "kind"),
        ({"tags": {"version": 3}}, "tags"),
    ],
)
def test_a_bad_annotation_is_refused_naming_the_field(ci, web01, change, field):
    response = ci.post("/api/v1/annotations", {**DEPLOY, **change}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Annotation.objects.exists()


@pytest.fixture
def history(web01, settings):
    """Ten minutes of web-01: an error line, events, a deploy, an alert's life, a suppressed alert."""
    settings.SERVER_DOWN_SECONDS = 300
    now = datetime.now(UTC)
    batch = storage.Batch()
    batch.logs.append(storage.LogRecord(now - timedelta(minutes=9), web01.pk, "checkout", "ERROR", "gateway timeout",
                                        {}, "t"))  # fmt: skip
    batch.logs.append(
        storage.LogRecord(now - timedelta(minutes=9), web01.pk, "checkout", "INFO", "order placed", {}, "t")
    )
    batch.events.append(storage.EventRecord(now - timedelta(minutes=8), web01.pk, "orders-api", "api_call",
                                            status="WARNING", reasons=["latency 4200 ms above 3000"]))  # fmt: skip
    batch.events.append(storage.EventRecord(now - timedelta(minutes=7), web01.pk, "docker", "container",
                                            data={"action": "restart", "container": "web-app"}))  # fmt: skip
    batch.events.append(storage.EventRecord(now - timedelta(minutes=6), web01.pk, "orders-api", "api_call",
                                            status="WARNING", reasons=["Anomaly: latency 900 is 5.0 standard "
                                                                       "deviations from its mean 120 (n=40)"]))  # fmt: skip
    storage.write(batch)
    Annotation.objects.create(server=web01, ts=now - timedelta(minutes=5), title="deploy v1.4.2", author="ci")
    rule = AlertRule.objects.create(name="cpu hot", metric_type="system", metric_name="cpu_usage", threshold=90)
    alert = Alert.objects.create(rule=rule, server=web01, fingerprint="f1", summary="CPU 97% on web-01",
                                 started_at=now - timedelta(minutes=4))  # fmt: skip
    alert.fire(97, now - timedelta(minutes=4))
    alert.acknowledge(None, via="a test")
    alert.resolve(40, now - timedelta(minutes=2))
    # later the host goes quiet: another alert is suppressed, and says so on the timeline
    Server.objects.filter(pk=web01.pk).update(last_seen=now - timedelta(minutes=10))
    web01.refresh_from_db()
    quiet = Alert.objects.create(rule=rule, server=web01, fingerprint="f2", summary="CPU 99% on web-01",
                                 started_at=now - timedelta(minutes=1))  # fmt: skip
    quiet.fire(99, now - timedelta(minutes=1))
    return now


def test_everything_that_happened_to_web01_on_one_axis(api, web01, history):
    answer = api.get(f"/api/v1/servers/{web01.pk}/timeline").json()
    got = [(item["kind"], item["title"].split(":")[0]) for item in answer["items"]]
    # bob acknowledged just now; the quiet alert fired, suppressed, a minute ago
    assert set(got[:3]) == {("alert", "acknowledged"), ("alert", "fired"), ("alert", "suppressed")}
    assert ("alert", "resolved") in got
    assert ("alert", "acknowledged") in got
    assert ("annotation", "deploy") in got and ("anomaly", "orders-api") in got
    assert ("docker", "docker") in got and ("event", "orders-api") in got
    assert [i["title"] for i in answer["items"] if i["kind"] == "log"] == ["ERROR in checkout"]
    stamps = [i["ts"] for i in answer["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_bob_filters_the_timeline_by_kind(api, web01, history):
    by_hostname = api.get("/api/v1/servers/web-01/timeline?kind=log,annotation").json()
    assert {item["kind"] for item in by_hostname["items"]} == {"log", "annotation"}
    assert api.get(f"/api/v1/servers/{web01.pk}/timeline?kind=weather").json()["errors"][0]["field"] == "kind"
    assert api.get("/api/v1/servers/nowhere/timeline").status_code == 404
    assert api.get(f"/api/v1/servers/{web01.pk}/timeline?from=soon").json()["errors"][0]["field"] == "from"


def test_an_agent_cannot_read_the_timeline(agent_token, web01):
    assert client_with(agent_token).get(f"/api/v1/servers/{web01.pk}/timeline").status_code == 403


def test_the_timeline_page_and_the_deploy_on_the_charts(client, bob, web01, history):
    client.force_login(bob)
    page = client.get(f"/console/servers/{web01.pk}/timeline?kind=annotation&kind=alert").content.decode()
    assert "deploy: deploy v1.4.2" in page and "suppressed: CPU 99% on web-01" in page and "gateway timeout" not in page
    charts = client.get(f"/console/servers/{web01.pk}/series.json?range=1h").json()
    assert [a["title"] for a in charts["annotations"]] == ["deploy v1.4.2"]
    assert AgentToken.objects.count() == 0  # the page needed no token
