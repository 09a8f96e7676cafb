"""A token copied to the wrong machine: its body names another host, nothing is stored."""

import pytest

from ingest.tests.payloads import SEED000_MINIMAL, SEED002_BODY, seed001_body
from monitoring.models import Sample, Snapshot
from servers.models import Server

pytestmark = pytest.mark.django_db


def _refused_naming_both(response, other: str) -> None:
    assert response.status_code == 403, response.content
    detail = response.json()["detail"]
    assert "web-01" in detail and other in detail
    assert not Sample.objects.exists()
    assert not Snapshot.objects.exists()


def test_a_seed000_snapshot_naming_another_host_is_refused(agent, web01):
    response = agent.post("/ingest", {**SEED000_MINIMAL, "host": "db-07"}, content_type="application/json")

    _refused_naming_both(response, "db-07")
    assert not Server.objects.filter(hostname="db-07").exists()


def test_a_seed002_body_naming_another_hostname_is_refused(agent, web01):
    response = agent.post("/ingest/metrics", {**SEED002_BODY, "hostname": "db-07"}, content_type="application/json")

    _refused_naming_both(response, "db-07")


def test_a_seed001_body_naming_another_hostname_is_refused(agent, web01):
    body = {**seed001_body(web01.id), "hostname": "db-07"}
    del body["server_id"]

    _refused_naming_both(agent.post("/api/v1/ingest", body, content_type="application/json"), "db-07")


def test_a_seed001_body_naming_another_server_id_is_refused(agent, web01):
    other = Server.objects.create(hostname="db-07")

    response = agent.post("/api/v1/ingest", seed001_body(other.id), content_type="application/json")

    _refused_naming_both(response, str(other.id))


def test_a_body_naming_the_tokens_own_host_is_stored(agent, web01):
    response = agent.post("/ingest", {**SEED000_MINIMAL, "host": "WEB-01"}, content_type="application/json")

    assert response.status_code == 200
    assert Sample.objects.filter(series__server=web01).exists()


def test_a_fleet_token_writes_for_any_host(fleet):
    for host in ("db-07", "web-09"):
        assert (
            fleet.post("/ingest", {**SEED000_MINIMAL, "host": host}, content_type="application/json").status_code == 200
        )

    assert Server.objects.filter(hostname__in=["db-07", "web-09"]).count() == 2
