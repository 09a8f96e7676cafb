"""PostgreSQL goes away or refuses a value while agents post: 503 or 400, never 500, nothing partly stored."""

import secrets
import time
import urllib.error
import urllib.request

import orjson
import pytest
from django.db import connection

from ingest.tests.payloads import SEED002_BODY
from monitoring.models import Sample, Series
from servers.models import AgentToken, Server

pytestmark = pytest.mark.django_db


def test_a_label_too_long_for_postgresqls_index_is_400_naming_labels(agent, web01):
    # random text does not compress: three values of 1,000 characters overflow a btree index row
    labels = {f"k{n}": secrets.token_hex(500) for n in range(3)}
    body = {"metrics": [{"metric_type": "cpu", "metric_name": "usage", "value": 1.0, "labels": labels}]}

    response = agent.post("/api/v1/ingest", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "labels"
    assert not Series.objects.exists()
    assert not Sample.objects.exists()


def test_an_unreachable_database_is_503_with_retry_after(agent, web01, unreachable_database):
    with unreachable_database():
        response = agent.post("/ingest/metrics", SEED002_BODY, content_type="application/json")

    assert response.status_code == 503
    assert response["Retry-After"]


def _post(url: str, token: str, second: int) -> tuple[int, str | None]:
    body = orjson.dumps({**SEED002_BODY, "timestamp": SEED002_BODY["timestamp"] + second})
    request = urllib.request.Request(
        f"{url}/ingest/metrics", data=body, headers={"X-Agent-Token": token, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


@pytest.mark.slow
def test_lost_connections_answer_503_and_the_next_request_gets_a_fresh_one(daphne_console):
    token = AgentToken.issue("agent", server=Server.objects.create(hostname="web-01"))[1]
    for second in range(8):  # every pool thread holds a connection
        assert _post(daphne_console, token, second)[0] == 200
    with connection.cursor() as cursor:  # as PostgreSQL restarting does to every session
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    answers = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answers.append(_post(daphne_console, token, 100 + len(answers)))
        if answers[-1][0] == 200 and len(answers) > 1 and answers[-2][0] == 200:
            break

    failed = [answer for answer in answers if answer[0] != 200]
    assert all(code == 503 and retry for code, retry in failed), answers
    assert len(failed) <= 4  # at most once per pool thread: its broken connection is dropped
    stored = Sample.objects.filter(series__name="cpu_usage").count()
    assert stored == 8 + len(answers) - len(failed)
