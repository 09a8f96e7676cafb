"""A person searches logs: filters, full-text, cursor pagination, newest first (GET /api/v1/logs)."""

from datetime import UTC, datetime, timedelta

import pytest

from config.tests.fixtures import write_logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def logs(web01):
    write_logs(
        [
            (30, "api", "INFO", "GET /users/42 200 in 12ms"),
            (25, "api", "ERROR", "Database connection failed: timeout after 5000ms"),
            (20, "worker", "WARNING", "Retrying job 981 after database deadlock"),
            (15, "api", "CRITICAL", "Out of memory: killed process 1234"),
            (10, "worker", "INFO", "Job 982 done"),
            (3 * 86400, "api", "ERROR", "Database connection failed: refused"),
        ],
        server=web01,
    )


def messages(response):
    assert response.status_code == 200, response.content
    return [entry["message"] for entry in response.json()["results"]]


def test_newest_first(api, logs):
    found = messages(api.get("/api/v1/logs"))
    assert found[0] == "Job 982 done"
    assert found[-1] == "Database connection failed: refused"


def test_full_text_search_finds_words_in_any_case(api, logs):
    found = messages(api.get("/api/v1/logs", {"q": "DATABASE"}))
    assert found == [
        "Retrying job 981 after database deadlock",
        "Database connection failed: timeout after 5000ms",
        "Database connection failed: refused",
    ]


def test_full_text_search_understands_phrases_and_exclusions(api, logs):
    assert messages(api.get("/api/v1/logs", {"q": '"connection failed" -refused'})) == [
        "Database connection failed: timeout after 5000ms"
    ]


def test_filters_by_service_and_several_levels(api, logs):
    found = messages(api.get("/api/v1/logs?service=api&level=error&level=CRITICAL"))
    assert found == [
        "Out of memory: killed process 1234",
        "Database connection failed: timeout after 5000ms",
        "Database connection failed: refused",
    ]
    assert messages(api.get("/api/v1/logs?level=warn,info&service=worker")) == [
        "Job 982 done",
        "Retrying job 981 after database deadlock",
    ]


def test_filters_by_time_window(api, logs):
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    found = messages(api.get("/api/v1/logs", {"from": since, "q": "database"}))
    assert "Database connection failed: refused" not in found
    assert len(found) == 2


def test_filters_by_server_id_or_hostname(api, logs, web01):
    assert len(messages(api.get("/api/v1/logs", {"server": "web-01"}))) == 6
    assert len(messages(api.get("/api/v1/logs", {"server": str(web01.id)}))) == 6
    assert messages(api.get("/api/v1/logs", {"server": "nope"})) == []


def test_cursor_pagination_walks_every_line_once(api, logs):
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/logs", params).json()
        seen += [entry["id"] for entry in body["results"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6


def test_lines_with_the_same_time_are_not_skipped_between_pages(api):
    now = datetime.now(UTC)
    write_logs([(0, "burst", "INFO", f"line {i}") for i in range(5)], now=now)
    first = api.get("/api/v1/logs", {"limit": 3}).json()
    second = api.get("/api/v1/logs", {"limit": 3, "cursor": first["next_cursor"]}).json()
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert len(set(ids)) == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"level": "LOUD"}, "level"),
        ({"from": "yesterday"}, "from"),
        ({"limit": "5000"}, "limit"),
        ({"cursor": "bogus!"}, "cursor"),
        ({"from": "2025-01-02T00:00:00Z", "to": "2025-01-01T00:00:00Z"}, "to"),
    ],
)
def test_a_bad_search_is_refused_with_the_parameter(api, query, field):
    response = api.get("/api/v1/logs", query)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_an_agent_token_cannot_read_logs(client, agent_token):
    response = client.get("/api/v1/logs", HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    assert response.status_code == 403


def test_anonymous_people_cannot_read_logs(client):
    assert client.get("/api/v1/logs").status_code in (401, 403)
