"""Everyone signed in reads alerting; changing what pages people takes staff or a permission granted by a group.

bob is a team member with no rights; carol is on call (group "on-call": silences and servers);
alice is an admin.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import Alert, AlertRule, Notification, Silence
from servers.models import AgentToken

pytestmark = pytest.mark.django_db

RULE = {"name": "disk full", "metric_type": "system", "metric_name": "disk_usage", "threshold": 90}


def _in(hours: float) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def _grant(user, *perms: str) -> None:
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))


@pytest.fixture
def admin_api(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentToken.issue('user', user=alice)[1]}")
    return client


@pytest.fixture
def firing(web01):
    rule = AlertRule.objects.create(name="cpu high", metric_type="system", metric_name="cpu_usage", threshold=90)
    alert = Alert.objects.create(
        rule=rule, server=web01, fingerprint="f", labels={"alertname": "cpu high", "server": "web-01"}
    )
    alert.fire(97)
    return alert


def test_bob_reads_silences_but_cannot_silence(api, db):
    assert api.get("/api/v1/silences").status_code == 200
    response = api.post("/api/v1/silences", {"matchers": {"server": "web-01"}, "ends_at": _in(1)}, format="json")

    assert response.status_code == 403
    assert not Silence.objects.exists()


def test_a_rule_permission_granted_in_the_admin_lets_bob_write_rules(api, bob):
    assert api.post("/api/v1/alert-rules", RULE, format="json").status_code == 403

    _grant(bob, "alerts.add_alertrule")

    assert api.post("/api/v1/alert-rules", RULE, format="json").status_code == 201
    rule = AlertRule.objects.get(name="disk full")
    assert api.patch(f"/api/v1/alert-rules/{rule.pk}", {"enabled": False}, format="json").status_code == 403


def test_bob_cannot_put_a_server_into_maintenance_or_disable_it(api, web01):
    maintenance = api.patch(f"/api/v1/servers/{web01.id}", {"maintenance_until": _in(2)}, format="json")
    disable = api.patch(f"/api/v1/servers/{web01.id}", {"active": False}, format="json")

    assert (maintenance.status_code, disable.status_code) == (403, 403)
    assert "servers.change_server" in maintenance.json()["detail"]
    web01.refresh_from_db()
    assert web01.active and web01.maintenance_until is None


def test_bob_still_describes_a_server(api, web01):
    response = api.patch(f"/api/v1/servers/{web01.id}", {"owner_team": "platform", "active": True}, format="json")

    assert response.status_code == 200


def test_carol_on_call_puts_a_server_into_maintenance(carol_api, web01):
    response = carol_api.patch(f"/api/v1/servers/{web01.id}", {"maintenance_until": _in(2)}, format="json")

    assert response.status_code == 200
    web01.refresh_from_db()
    assert web01.in_maintenance


def test_bob_marks_notifications_read_but_cannot_delete_them(api, db):
    Notification.objects.create(title="Disk")

    assert api.post("/api/notifications/bulk", {"all": True, "action": "delete"}, format="json").status_code == 403
    assert api.post("/api/notifications/bulk", {"all": True}, format="json").json()["updated"] == 1
    assert Notification.objects.count() == 1


def test_an_admin_deletes_notifications(admin_api, db):
    Notification.objects.create(title="Disk")

    assert (
        admin_api.post("/api/notifications/bulk", {"all": True, "action": "delete"}, format="json").status_code == 200
    )
    assert not Notification.objects.exists()


def test_event_cleanup_takes_the_event_delete_permission(api, bob):
    assert api.post("/api/v1/monitoring/maintenance/cleanup?older_than_hours=48").status_code == 403

    _grant(bob, "monitoring.delete_event")

    assert api.post("/api/v1/monitoring/maintenance/cleanup?older_than_hours=48").status_code == 200


def test_a_silence_longer_than_the_maximum_is_refused(carol_api, settings):
    settings.SILENCE_MAX_SECONDS = 7 * 86400

    too_long = carol_api.post(
        "/api/v1/silences", {"matchers": {"server": "web-01"}, "ends_at": _in(8 * 24)}, format="json"
    )
    a_week = carol_api.post(
        "/api/v1/silences", {"matchers": {"server": "web-01"}, "ends_at": _in(7 * 24 - 1)}, format="json"
    )

    assert too_long.status_code == 400 and "SILENCE_MAX_SECONDS" in str(too_long.json()["ends_at"])
    assert a_week.status_code == 201


def test_a_silence_cannot_be_stretched_past_the_maximum(carol_api):
    silence = carol_api.post("/api/v1/silences", {"matchers": {"server": "web-01"}, "ends_at": _in(1)}, format="json")

    stretched = carol_api.patch(f"/api/v1/silences/{silence.json()['id']}", {"ends_at": _in(24 * 30)}, format="json")

    assert stretched.status_code == 400 and "ends_at" in stretched.json()


@pytest.mark.parametrize("matchers", [{}, {"server": "!web-01"}, {"alertname": "*"}, {"a": "*", "b": "!x"}])
def test_a_silence_of_every_alert_is_refused_to_a_non_staff_person(carol_api, matchers):
    response = carol_api.post(
        "/api/v1/silences", {"matchers": matchers, "ends_at": _in(1), "match_all": True}, format="json"
    )

    assert response.status_code == 400 and "every alert" in str(response.json()["matchers"])


def test_staff_silences_every_alert_only_saying_so(admin_api):
    body = {"matchers": {"alertname": "*"}, "ends_at": _in(1)}

    unsaid = admin_api.post("/api/v1/silences", body, format="json")
    said = admin_api.post("/api/v1/silences", {**body, "match_all": True}, format="json")

    assert unsaid.status_code == 400 and "match_all" in str(unsaid.json()["matchers"])
    assert said.status_code == 201 and "match_all" not in said.json()


def test_the_console_hides_the_silence_button_from_bob_and_refuses_his_post(client, bob, firing):
    client.force_login(bob)

    page = client.get(reverse("dashboards:alert", args=[firing.pk])).content.decode()
    response = client.post(reverse("dashboards:alert-silence", args=[firing.pk]), {"duration": "1h"})

    assert reverse("dashboards:alert-silence", args=[firing.pk]) not in page
    assert response.status_code == 403
    assert not Silence.objects.exists()


def test_the_console_shows_carol_the_silence_button(client, carol, firing):
    client.force_login(carol)

    page = client.get(reverse("dashboards:alert", args=[firing.pk])).content.decode()

    assert reverse("dashboards:alert-silence", args=[firing.pk]) in page


def test_an_admin_cannot_save_an_over_long_silence_in_the_admin(client, alice):
    client.force_login(alice)
    now = timezone.now()
    response = client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": '{"server": "web-01"}',
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "ends_at_0": (now + timedelta(days=30)).strftime("%Y-%m-%d"),
            "ends_at_1": now.strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 200 and "SILENCE_MAX_SECONDS" in response.content.decode()
    assert not Silence.objects.exists()


def test_console_back_links_stay_in_the_console(client, carol, firing):
    client.force_login(carol)

    outside = client.post(reverse("dashboards:alert-acknowledge", args=[firing.pk]), {"next": "https://evil.example/"})
    scheme = client.post(reverse("dashboards:alert-acknowledge", args=[firing.pk]), {"next": "/\\evil.example"})
    inside = client.post(
        reverse("dashboards:alert-silence", args=[firing.pk]), {"next": "/console/alerts?state=firing"}
    )

    assert outside["Location"] == reverse("dashboards:alert", args=[firing.pk])
    assert scheme["Location"] == reverse("dashboards:alert", args=[firing.pk])
    assert inside["Location"] == "/console/alerts?state=firing"
