"""A person issues themselves a read-only token (`issue_token --user NAME --read-only`): it reads, it changes nothing."""

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from servers.models import AgentToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_only_api(alice):
    out = io.StringIO()
    call_command("issue_token", "--user", "alice", "--read-only", stdout=out)
    raw = out.getvalue().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_the_command_issues_a_read_only_person_token(alice):
    out = io.StringIO()
    call_command("issue_token", "--user", "alice", "--read-only", stdout=out)

    assert "read-only" in out.getvalue()
    assert AgentToken.find(out.getvalue().splitlines()[-1]).read_only


def test_read_only_is_for_person_tokens_only(db):
    with pytest.raises(CommandError, match="read-only"):
        call_command("issue_token", "web-01", "--read-only", stdout=io.StringIO())


def test_a_read_only_token_reads(read_only_api, web01):
    assert read_only_api.get("/api/v1/servers").status_code == 200
    assert read_only_api.get(f"/api/v1/servers/{web01.id}").status_code == 200
    assert read_only_api.get("/api/v1/alert-rules").status_code == 200


def test_a_read_only_token_of_an_admin_changes_nothing(read_only_api, web01):
    patch = read_only_api.patch(f"/api/v1/servers/{web01.id}", {"owner_team": "x"}, format="json")
    delete = read_only_api.delete(f"/api/v1/servers/{web01.id}")
    rule = read_only_api.post(
        "/api/v1/alert-rules", {"name": "r", "metric_type": "cpu", "metric_name": "usage"}, format="json"
    )

    assert (patch.status_code, delete.status_code, rule.status_code) == (403, 403, 403)
    assert "read-only" in patch.json()["detail"]
    web01.refresh_from_db()
    assert web01.owner_team == "devops"
