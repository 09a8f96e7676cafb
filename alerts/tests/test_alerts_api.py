"""The alerting API as the team uses it: rules, alerts, acknowledgement, silences, seed endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertRule, AlertTransition, Notification, NotificationChannel, Silence
from servers.models import AgentToken


@pytest.fixture
def admin_api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentToken.issue('user', user=alice)[1]}")
    return client


@pytest.fixture
def rule(db):
    return AlertRule.objects.create(name="cpu high", metric_type="system", metric_name="cpu_usage", threshold=90)


@pytest.fixture
def firing(rule, web01):
    alert = Alert.objects.create(
        rule=rule,
        server=web01,
        fingerprint=rule.fingerprint(web01.id, {}),
        value=97,
        summary="CPU 97% on web-01",
        labels={"alertname": "cpu high", "server": "web-01", "severity": "warning"},
    )
    alert.opened()
    alert.fire(97)
    return alert


RULE = {
    "name": "disk full", "kind": "threshold", "metric_type": "system", "metric_name": "disk_usage",
    "comparison": "gt", "threshold": 90, "recovery_threshold": 85, "for_seconds": 60, "severity": "critical",
    "summary": "disk {value:.0f}% on {server}", "runbook_url": "https://runbooks/disk",
}  # fmt: skip


def test_alice_creates_a_rule(admin_api, alice):
    response = admin_api.post("/api/v1/alert-rules", RULE, format="json")
    assert response.status_code == 201, response.json()
    rule = AlertRule.objects.get(name="disk full")
    assert rule.created_by == alice and rule.recovery_threshold == 85
    assert admin_api.get(f"/api/v1/alert-rules/{rule.pk}").json()["severity"] == "critical"
    assert admin_api.patch(f"/api/v1/alert-rules/{rule.pk}/", {"enabled": False}, format="json").status_code == 200
    assert admin_api.delete(f"/api/v1/alert-rules/{rule.pk}").status_code == 204


def test_bob_reads_rules_but_cannot_change_them(api, rule):
    assert api.get("/api/v1/alert-rules").json()["results"][0]["name"] == "cpu high"
    assert api.post("/api/v1/alert-rules", RULE, format="json").status_code == 403


def test_anonymous_reads_nothing(db):
    assert APIClient().get("/api/v1/alerts").status_code in (401, 403)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"metric_name": ""}, "metric_name"),
        ({"kind": "log_pattern", "pattern": "(unclosed"}, "pattern"),
        ({"kind": "log_pattern", "pattern": ""}, "pattern"),
        ({"scope": "server"}, "server"),
        ({"scope": "labels"}, "server_labels"),
        ({"comparison": "bigger"}, "comparison"),
        ({"severity": "meh"}, "severity"),
        ({"metric_labels": {"core": 1}}, "metric_labels"),
        ({"window_seconds": 0}, "window_seconds"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(admin_api, change, field):
    response = admin_api.post("/api/v1/alert-rules", {**RULE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_alerts_are_listed_and_filtered(api, firing):
    assert [a["id"] for a in api.get("/api/v1/alerts?state=firing").json()["results"]] == [firing.pk]
    assert api.get("/api/v1/alerts?state=resolved").json()["results"] == []
    assert api.get("/api/v1/alerts?severity=critical").json()["results"] == []
    assert len(api.get("/api/v1/alerts?server=web-01").json()["results"]) == 1
    assert len(api.get(f"/api/v1/alerts?server={firing.server_id}").json()["results"]) == 1
    detail = api.get(f"/api/v1/alerts/{firing.pk}").json()
    assert [t["to_state"] for t in detail["transitions"]] == ["pending", "firing"]


@pytest.mark.parametrize("query", ["state=burning", "severity=meh", "rule=abc", "limit=0"])
def test_a_bad_filter_is_refused(api, firing, query):
    path = "/api/health/alerts" if query.startswith("limit") else "/api/v1/alerts"
    assert api.get(f"{path}?{query}").status_code == 400


def test_listing_alerts_takes_a_fixed_number_of_queries(api, rule, web01, django_assert_max_num_queries):
    from servers.models import Server

    for i in range(15):
        server = Server.objects.create(hostname=f"n{i}")
        Alert.objects.create(rule=rule, server=server, fingerprint=f"fp{i}")
    with django_assert_max_num_queries(4):
        assert api.get("/api/v1/alerts").json()["count"] == 15


def test_bob_acknowledges_an_alert(api, firing, bob):
    response = api.post(f"/api/v1/alerts/{firing.pk}/acknowledge")
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "bob"
    firing.refresh_from_db()
    assert firing.acknowledged_by == bob


def test_acknowledging_an_unknown_alert_is_404(api, db):
    assert api.post("/api/v1/alerts/999999/acknowledge").status_code == 404
    assert api.post("/api/health/alerts/999999/acknowledge").status_code == 404


def test_seed004_health_alerts_and_acknowledge(api, firing):
    body = api.get("/api/health/alerts").json()
    assert body["total"] == 1 and body["alerts"][0]["status"] == "firing"
    assert body["alerts"][0]["acknowledged"] is False
    ack = api.post(f"/api/health/alerts/{firing.pk}/acknowledge")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert api.post(f"/api/health/alerts/{firing.pk}/acknowledge").json()["status"] == "already acknowledged"
    assert api.get("/api/health/alerts?acknowledged=false").json()["total"] == 0


def test_seed002_recent_alerts(api, firing):
    firing.resolve(40)
    events = api.get("/api/alerts/recent").json()
    assert [e["state"] for e in events] == ["resolved", "firing", "pending"]
    assert events[0]["server"] == "web-01" and events[1]["value"] == 97


def test_carol_on_call_silences_a_server_and_expires_the_silence(carol_api, carol):
    api = carol_api
    ends = (timezone.now() + timedelta(hours=2)).isoformat()
    response = api.post("/api/v1/silences", {"matchers": {"server": "web-01"}, "ends_at": ends,
                                             "comment": "reboot"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    silence = Silence.objects.get()
    assert silence.created_by == carol and response.json()["active"] is True
    assert api.get("/api/v1/silences?active=true").json()["count"] == 1
    assert api.delete(f"/api/v1/silences/{silence.pk}").status_code == 204
    assert api.get("/api/v1/silences?active=true").json()["count"] == 0
    assert Silence.objects.filter(pk=silence.pk).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"matchers": {}}, "matchers"),
        ({"matchers": {"server": 1}}, "matchers"),
        ({"matchers": ["server"]}, "matchers"),
        ({"matchers": {"server": "web-01"}, "ends_at": "2000-01-01T00:00:00Z"}, "ends_at"),
        ({"matchers": {"server": "web-01"}, "ends_at": "tomorrow"}, "ends_at"),
    ],
)
def test_a_bad_silence_is_refused(carol_api, body, field):
    body.setdefault("ends_at", (timezone.now() + timedelta(hours=1)).isoformat())
    response = carol_api.post("/api/v1/silences", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_seed004_notifications_list_create_and_mark_read(api, db):
    created = api.post("/api/notifications/", {"title": "Deploy", "message": "v2 out", "type": "info"}, format="json")
    assert created.status_code == 201
    Notification.objects.create(title="Disk", level="warning")
    listed = api.get("/api/notifications/").json()
    assert [n["title"] for n in listed["results"]] == ["Disk", "Deploy"]
    ids = [n["id"] for n in listed["results"]]
    bulk = api.post("/api/notifications/bulk", {"notification_ids": ids[:1], "action": "mark_read"}, format="json")
    assert bulk.json() == {"action": "mark_read", "updated": 1}
    assert [n["title"] for n in api.get("/api/notifications/?unread_only=true").json()["results"]] == ["Deploy"]
    assert api.post("/api/notifications/bulk", {"all": True}, format="json").json()["updated"] == 1


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/notifications/", {"message": "no title"}),
        ("/api/notifications/", {"title": "x", "type": "loud"}),
        ("/api/notifications/", {"title": "x", "metadata": [1]}),
        ("/api/notifications/bulk", {}),
        ("/api/notifications/bulk", {"notification_ids": ["a"]}),
        ("/api/notifications/bulk", {"notification_ids": [1], "action": "explode"}),
    ],
)
def test_bad_notification_requests_are_refused(api, db, path, body):
    assert api.post(path, body, format="json").status_code == 400


def test_seed004_notification_channels_hide_secrets(api, db):
    NotificationChannel.objects.create(name="hook", kind="webhook", config={"url": "https://x/y", "secret": "zzz"})
    channels = api.get("/api/notifications/channels").json()["channels"]
    assert channels[0]["type"] == "webhook" and channels[0]["signed"] is True
    assert "zzz" not in str(channels)


def test_acknowledgement_is_kept_in_the_history(api, firing):
    api.post(f"/api/v1/alerts/{firing.pk}/acknowledge")
    assert AlertTransition.objects.filter(alert=firing, note__startswith="acknowledged by bob").exists()


@pytest.mark.parametrize("model", ["alertrule", "alert", "silence", "notificationchannel", "delivery", "notification"])
def test_alice_opens_the_alerting_admin_pages(client, alice, firing, model):
    client.force_login(alice)
    assert client.get(f"/admin/alerts/{model}/").status_code == 200


def test_alice_opens_an_alert_with_its_history_in_admin(client, alice, firing):
    client.force_login(alice)
    page = client.get(f"/admin/alerts/alert/{firing.pk}/change/")
    assert page.status_code == 200 and b"firing" in page.content


def test_the_schema_lists_the_alerting_api_once_per_path(client, alice):
    client.force_login(alice)
    paths = set(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"])
    assert {"/api/v1/alert-rules", "/api/v1/alerts/{id}/acknowledge", "/api/v1/silences", "/api/alerts/recent",
            "/api/health/alerts", "/api/notifications/", "/api/notifications/bulk"} <= paths  # fmt: skip
    assert "/api/v1/alerts/" not in paths and "/api/notifications" not in paths


def test_both_spellings_answer(api, firing):
    assert api.get("/api/v1/alerts/").status_code == 200
    assert api.get("/api/notifications").status_code == 200
    assert api.post(f"/api/v1/alerts/{firing.pk}/acknowledge/").status_code == 200
