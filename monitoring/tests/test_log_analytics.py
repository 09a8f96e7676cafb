"""A person analyses logs: grouped counts, a service's trends, error patterns mined with drain3."""

from datetime import UTC, datetime, timedelta

import pytest

from config.tests.fixtures import write_logs
from monitoring.log_analytics import mine

pytestmark = pytest.mark.django_db

REALISTIC_ERRORS = [
    "Database connection failed: timeout after 5000 ms (host=db-01:5432)",
    "Database connection failed: timeout after 3000 ms (host=db-02:5432)",
    "Database connection failed: timeout after 5000 ms (host=db-01:5432)",
    "User 4411 not found in tenant 17",
    "User 98 not found in tenant 3",
    "Payment 7f3a9c21 declined by gateway stripe: insufficient funds",
    "Payment 0b2e11aa declined by gateway stripe: insufficient funds",
    "Payment 99ffee00 declined by gateway adyen: card expired",
    "User 12 not found in tenant 17",
]


def test_pattern_mining_groups_realistic_error_lines_into_templates():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [(start + timedelta(minutes=i), "api", message) for i, message in enumerate(REALISTIC_ERRORS)]
    patterns = {p["template"]: p for p in mine(lines)}
    users = patterns["User <*> not found in tenant <*>"]
    assert users["count"] == 3
    assert users["first_seen"] == "2026-01-01T00:03:00Z"
    assert users["last_seen"] == "2026-01-01T00:08:00Z"
    assert users["example"] == "User 4411 not found in tenant 17"
    database = next(p for t, p in patterns.items() if t.startswith("Database connection failed"))
    assert database["count"] == 3
    payments = [p for t, p in patterns.items() if t.startswith("Payment")]
    assert sum(p["count"] for p in payments) == 3
    assert len(patterns) <= 5


def test_error_patterns_endpoint_reads_recent_errors_most_frequent_first(api):
    lines = [(60 + i, "api", "ERROR", message) for i, message in enumerate(REALISTIC_ERRORS)]
    lines += [(5, "api", "INFO", "User 1 logged in"), (6, "web", "CRITICAL", "User 5 not found in tenant 2")]
    write_logs(lines)
    body = api.get("/api/analytics/errors/patterns").json()
    assert body["lines_analysed"] == len(REALISTIC_ERRORS) + 1
    top = body["patterns"][0]
    assert top["template"] == "User <*> not found in tenant <*>"
    assert top["count"] == 4
    assert top["services"] == ["api", "web"]
    only_web = api.get("/api/analytics/errors/patterns?service=web").json()
    assert only_web["lines_analysed"] == 1


def test_query_counts_lines_grouped_by_level_and_service(api):
    write_logs([(10, "api", "INFO", "a"), (9, "api", "INFO", "b"), (8, "api", "ERROR", "c"), (7, "web", "INFO", "d")])
    body = api.post("/api/analytics/query", {"group_by": ["service", "level"]}, format="json").json()
    assert body["groups"] == [
        {"service": "api", "level": "ERROR", "count": 1},
        {"service": "api", "level": "INFO", "count": 2},
        {"service": "web", "level": "INFO", "count": 1},
    ]


def test_query_counts_lines_per_time_bucket_with_filters(api):
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    write_logs(
        [(0, "api", "ERROR", "x"), (60, "api", "ERROR", "y"), (70, "api", "ERROR", "z"), (5, "api", "INFO", "i")],
        now=now,
    )
    body = {
        "group_by": "time",
        "bucket": "1m",
        "level": ["ERROR"],
        "service": "api",
        "start_time": "2026-01-01T11:00:00Z",
        "end_time": "2026-01-01T13:00:00Z",
    }
    groups = api.post("/api/analytics/query", body, format="json").json()["groups"]
    assert groups == [
        {"time": "2026-01-01T11:59:00Z", "count": 2},
        {"time": "2026-01-01T12:00:00Z", "count": 1},
    ]


def test_query_without_grouping_answers_the_matching_lines(api):
    write_logs([(10, "api", "ERROR", "disk full"), (9, "api", "INFO", "disk ok")])
    body = api.post("/api/analytics/query", {"q": "full"}, format="json").json()
    assert [r["message"] for r in body["results"]] == ["disk full"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"group_by": ["colour"]}, "group_by"), ({"level": 5}, "level"), ({"bucket": "fortnight"}, "bucket"), ([], "")],
)
def test_a_bad_analytics_query_is_refused(api, body, field):
    response = api.post("/api/analytics/query", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_trends_count_each_level_per_bucket_for_one_service(api):
    write_logs(
        [(10, "api", "ERROR", "x"), (20, "api", "INFO", "y"), (30, "api", "INFO", "z"), (10, "web", "ERROR", "w")]
    )
    body = api.get("/api/analytics/trends/api?hours=1&bucket=1h").json()
    totals = {k: sum(b[k] for b in body["buckets"]) for k in ("INFO", "ERROR", "total")}
    assert totals == {"INFO": 2, "ERROR": 1, "total": 3}
    assert all(
        set(b) >= {"time", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "error_rate"} for b in body["buckets"]
    )
    assert api.get("/api/analytics/trends/api?hours=0").status_code == 400
