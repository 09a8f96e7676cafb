"""Reading logs and events costs a fixed number of queries, however many rows come back (no N+1)."""

import pytest

from config.tests.fixtures import write_logs
from monitoring import events

pytestmark = pytest.mark.django_db


def test_searching_logs_is_one_query_after_authentication(api, django_assert_num_queries):
    write_logs([(i, f"svc-{i % 5}", "INFO", f"line {i}") for i in range(300)])
    api.get("/api/v1/logs?limit=1")  # warms the token's last_used touch
    with django_assert_num_queries(2):  # the person's token, the search
        response = api.get("/api/v1/logs?limit=200&q=line")
    assert response.json()["count"] == 200


def test_listing_event_logs_is_one_query_after_authentication(api, django_assert_num_queries):
    for i in range(30):
        events.record(events.Submitted("api", "t", {"response_time": 100 + i}))
    api.get("/api/v1/monitoring/logs?limit=1")
    with django_assert_num_queries(2):
        response = api.get("/api/v1/monitoring/logs?limit=30")
    assert response.json()["count"] == 30


def test_health_overview_costs_one_query_per_service_plus_a_fixed_few(api, django_assert_max_num_queries):
    write_logs([(i, f"svc-{i % 5}", "ERROR" if i % 7 == 0 else "INFO", f"line {i}") for i in range(100)])
    api.get("/api/health/")
    # token, window counts, critical counts, classified counts, registered services, recent critical errors,
    # one max(ts) per service
    with django_assert_max_num_queries(6 + 5):
        response = api.get("/api/health/")
    assert response.json()["summary"]["total"] == 5
