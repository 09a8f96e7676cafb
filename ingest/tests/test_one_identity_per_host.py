"""Fifty hosts on one fleet token, seed 002's shared AGENT_API_TOKEN or anonymous are fifty agents."""

import pytest
from django.test import override_settings

from ingest.tests.payloads import SEED002_BODY
from monitoring.models import Sample

pytestmark = pytest.mark.django_db


def _post(client, host: str, second: int = 0, **headers):
    body = {**SEED002_BODY, "hostname": host, "timestamp": SEED002_BODY["timestamp"] + second}
    return client.post("/ingest/metrics", body, content_type="application/json", **headers)


@override_settings(AGENT_API_TOKEN="shared-secret", AGENT_RATE_LIMIT_PER_MINUTE=2)
def test_hosts_on_the_shared_token_each_have_their_own_rate_limit(client):
    token = {"HTTP_X_AGENT_TOKEN": "shared-secret"}
    answers = [_post(client, f"desk-{n}", second, **token).status_code for n in range(5) for second in range(2)]
    third = _post(client, "desk-0", 2, **token)

    assert answers == [200] * 10
    assert third.status_code == 429
    assert Sample.objects.count() == 10 * 4  # a table: cpu_usage and the process's cpu, memory, pids


@override_settings(AGENT_API_TOKEN="shared-secret")
def test_hosts_on_the_shared_token_posting_the_same_body_are_each_stored(client):
    for host in ("desk-1", "desk-2"):
        response = client.post(
            "/ingest/metrics",
            SEED002_BODY,
            content_type="application/json",
            HTTP_X_AGENT_TOKEN="shared-secret",
            HTTP_X_AGENT_HOSTNAME=host,
        )
        assert response.json()["duplicate"] is False

    assert Sample.objects.count() == 2 * 4


@override_settings(INGEST_ALLOW_ANONYMOUS=True, AGENT_RATE_LIMIT_PER_MINUTE=1)
def test_anonymous_hosts_each_have_their_own_rate_limit(client):
    assert _post(client, "kiosk-1").status_code == 200
    assert _post(client, "kiosk-2").status_code == 200
    assert _post(client, "kiosk-1", 1).status_code == 429


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=2)
def test_hosts_on_one_fleet_token_each_have_their_own_rate_limit(fleet):
    # a fleet token's hosts do not drain each other's bucket (one host's backfill cannot stop the rest)
    backfill = [_post(fleet, "churn-01", second).status_code for second in range(3)]
    others = [_post(fleet, f"web-{n}", second).status_code for n in range(5) for second in range(2)]

    assert backfill == [200, 200, 429]
    assert others == [200] * 10
    assert Sample.objects.count() == 12 * 4


@override_settings(AGENT_RATE_LIMIT_PER_MINUTE=100, FLEET_RATE_LIMIT_PER_MINUTE=3)
def test_a_fleet_token_as_a_whole_is_bounded_before_its_body_is_read(fleet):
    answers = [_post(fleet, f"web-{n}") for n in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "FLEET_RATE_LIMIT_PER_MINUTE" in answers[3].json()["detail"] and answers[3]["Retry-After"]
    assert Sample.objects.count() == 3 * 4  # the refused request stored nothing
