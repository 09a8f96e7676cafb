"""A person checks each service's health from its logs: error rate, silence, critical errors."""

import pytest

from config.tests.fixtures import write_logs
from servers.models import Server

pytestmark = pytest.mark.django_db


def by_name(overview):
    return {s["service_name"]: s for s in overview["services"]}


def test_a_service_under_the_error_rate_threshold_is_healthy(api):
    # 1 error in 25 lines = 4 %, under the 5 % default
    write_logs([(10, "api", "ERROR", "boom")] + [(i, "api", "INFO", "ok") for i in range(24)])
    service = api.get("/api/health/services/api").json()
    assert service["status"] == "healthy"
    assert service["error_rate"] == pytest.approx(0.04)


def test_a_service_over_the_error_rate_threshold_is_unhealthy(api):
    # 2 errors in 25 lines = 8 %
    write_logs(
        [(10, "api", "ERROR", "boom"), (11, "api", "ERROR", "boom")] + [(i, "api", "INFO", "ok") for i in range(23)]
    )
    service = api.get("/api/health/services/api").json()
    assert service["status"] == "unhealthy"
    assert service["reasons"][0].startswith("error rate 8.0% above 5.0%")


def test_errors_older_than_the_window_do_not_count(api):
    write_logs([(400, "api", "ERROR", "old boom"), (10, "api", "INFO", "ok")])
    assert api.get("/api/health/services/api").json()["status"] == "healthy"


def test_the_error_rate_threshold_and_window_come_from_settings(api, settings):
    write_logs(
        [(10, "api", "ERROR", "boom"), (400, "api", "ERROR", "boom")] + [(i, "api", "INFO", "ok") for i in range(24)]
    )
    settings.LOG_ERROR_RATE_THRESHOLD = 0.5
    assert api.get("/api/health/services/api").json()["status"] == "healthy"
    settings.LOG_ERROR_RATE_THRESHOLD = 0.05
    settings.LOG_ERROR_RATE_WINDOW_SECONDS = 600
    assert api.get("/api/health/services/api").json()["errors_in_window"] == 2


def test_a_service_without_logs_for_ten_minutes_is_silent(api):
    write_logs([(601, "batch", "INFO", "last words")])
    service = api.get("/api/health/services/batch").json()
    assert service["status"] == "silent"
    assert service["last_log_at"].endswith("Z")


def test_a_registered_service_that_never_logged_is_silent(api):
    Server.objects.create(hostname="billing", kind="service")
    overview = api.get("/api/health/").json()
    assert by_name(overview)["billing"]["status"] == "silent"
    assert overview["status"] == "degraded"


def test_a_recent_critical_error_makes_a_service_unhealthy_and_is_listed(api):
    write_logs(
        [(5, "db", "CRITICAL", "disk full on /var/lib/postgresql")] + [(i, "db", "INFO", "ok") for i in range(50)]
    )
    overview = api.get("/api/health/").json()
    assert overview["status"] == "unhealthy"
    assert by_name(overview)["db"]["critical_errors_last_hour"] == 1
    assert overview["recent_critical_errors"][0]["message"] == "disk full on /var/lib/postgresql"
    assert overview["summary"]["unhealthy"] == 1


def test_an_unknown_service_is_not_found(api):
    assert api.get("/api/health/services/nobody").status_code == 404


def test_services_are_listed_with_their_health(api, client, fleet_token):
    client.post(
        "/api/logs/services/register",
        {"service_name": "billing"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {fleet_token}",
    )
    write_logs([(1, "api", "INFO", "ok")])
    services = {s["service_name"]: s for s in api.get("/api/logs/services").json()["services"]}
    assert services["billing"]["registered"] is True
    assert services["billing"]["status"] == "silent"
    assert services["api"]["registered"] is False
    assert services["api"]["status"] == "healthy"


def test_status_answers_without_credentials(client):
    response = client.get("/api/status")
    assert response.status_code == 200
    assert response.json()["status"] == "running"
